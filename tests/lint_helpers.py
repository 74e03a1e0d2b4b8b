"""Write a small migration set and lint it, for the lint tests."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlmig.config import Settings
from sqlmig.discovery import load_migrations
from sqlmig.lint import Finding, lint_set

PG_URL = "postgresql://lint@nowhere.invalid/app"  # lint never connects without --pending
LITE_URL = "sqlite:///app.db"

# Migration 1 of most PostgreSQL cases: tables that exist before the file under test.
PG_BASE = """
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE t (id int PRIMARY KEY, a int, b varchar(10), n numeric(5,2), pid int,
                ts timestamp, addr cidr);
CREATE TABLE k (a int, b int);
CREATE TABLE parts (id int, at date) PARTITION BY RANGE (at);
"""
LITE_BASE = """
CREATE TABLE p (id INTEGER PRIMARY KEY);
CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, pid INTEGER REFERENCES p (id));
CREATE INDEX t_a ON t (a);
CREATE TRIGGER t_touch AFTER UPDATE ON t BEGIN SELECT 1; END;
"""


def write_set(folder: Path, files: Sequence[str | tuple[str, str]]) -> Path:
    """``files[i]`` is migration i+1: its up text, or (up, down)."""
    for sub in ("up", "down"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for number, entry in enumerate(files, 1):
        up, down = entry if isinstance(entry, tuple) else (entry, "SELECT 1;")
        name = f"{number:04d}_m{number}.sql"
        (folder / "up" / name).write_text(textwrap.dedent(up).lstrip("\n"))
        (folder / "down" / name).write_text(textwrap.dedent(down).lstrip("\n"))
    return folder


def lint(
    folder: Path,
    files: Sequence[str | tuple[str, str]],
    *,
    url: str = PG_URL,
    pending: Sequence[int] | None = None,
    batch: Sequence[int] = (),
    server_version: int | None = None,
    **settings: Any,
) -> list[Finding]:
    write_set(folder, files)
    migrations = load_migrations(folder)
    return lint_set(
        migrations,
        Settings(database_url=url, dir=folder, **settings),
        pending=pending,
        batch=batch,
        server_version=server_version,
    )


def rules(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


def where(findings: list[Finding]) -> list[tuple[str, int, str]]:
    """(file as up/NAME or down/NAME, line, rule) of each finding."""
    return [(f"{f.path.parent.name}/{f.path.name}", f.line, f.rule) for f in findings]
