"""The layout docs/architecture.md describes stays true: small files, no import cycles,
heavy modules imported only by the commands that need them."""

from __future__ import annotations

import ast
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "sqlmig"
# Past it a module holds more than one job: split it by responsibility (docs/architecture.md).
LIMIT = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path) -> set[str]:
    """Modules of sqlmig imported at module level (lazy imports inside functions and
    TYPE_CHECKING blocks are what breaks cycles, so they do not count)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sqlmig"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("sqlmig")}
    return found


def test_no_import_cycles():
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {
        m: {i for i in top_level_imports(p) if i in modules and i != m} for m, p in modules.items()
    }

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*path, start]
                if nxt not in path:
                    stack.append((nxt, [*path, nxt]))
        return None

    # A package imports its own submodules by design (cli/__init__ registers commands).
    cycles = [c for m in modules if (c := cycle_from(m)) and not _parent_child(c)]
    assert cycles == []


def _parent_child(cycle: list[str]) -> bool:
    return all(a.startswith(b + ".") or b.startswith(a + ".") for a, b in pairwise(cycle))


def test_the_cli_starts_without_the_database_drivers():
    probe = (
        "import sys\n"
        "from sqlmig.cli import app\n"
        "heavy = sorted(m for m in ('psycopg', 'pglast', 'sqlite3', 'rich.table') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# What `sqlmig status` into a file must not import: rich, the fleet, the command modules
# (and typer's commands) of the other commands, what runs steps, what only JSON needs, the
# other driver and what only it brings.
STATUS_NEEDS_NONE = ("rich", "pglast", "sqlmig.fleet_results")
STATUS_NEEDS_NONE += tuple(
    f"sqlmig.cli.{m}" for m in ("lint", "migrations", "moves", "release", "schema")
)
STATUS_NEEDS_NONE += ("sqlmig.runner", "sqlmig.scripts", "sqlmig.outcomes")
STATUS_NEEDS_NONE += ("sqlmig.documents", "sqlmig.schemaops")
NOT_ON = {"sqlite": ("psycopg", "socket", "json", "concurrent.futures"), "postgres": ("sqlite3",)}


def test_status_into_a_file_loads_neither_rich_nor_the_other_driver(tmp_path, db_url):
    import shutil

    shutil.copytree(REPO / "sql", tmp_path / "sql")
    unwanted = STATUS_NEEDS_NONE + NOT_ON["sqlite" if db_url.startswith("sqlite") else "postgres"]
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write(repr(sorted(\n"
        f"    m for m in {unwanted!r} if m in sys.modules))))\n"
        f"sys.argv = ['sqlmig', 'status', '-d', {db_url!r}]\n"
        "from sqlmig.cli import main\n"
        "main()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert "5 pending" in out.stdout
    assert out.stderr.strip() == "[]"  # status only reads and prints plain text here


def test_status_of_files_without_suspect_words_splits_and_classifies_nothing(
    tmp_path, db_url, write_migration
):
    # No word of the transaction check's list (discovery._MAYBE_OUTSIDE): no file is split,
    # and sqlkind, whose patterns classify statements, is never imported.
    write_migration(1, "t", "CREATE TABLE t (a int);", "DROP TABLE t;")
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write(repr('sqlmig.sqlkind' in sys.modules)))\n"
        f"sys.argv = ['sqlmig', 'status', '-d', {db_url!r}]\n"
        "from sqlmig.cli import main\n"
        "main()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert "1 pending" in out.stdout
    assert out.stderr == "False"


def test_no_module_is_over_the_size_limit():
    sizes = {module_name(p): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {m: n for m, n in sizes.items() if n > LIMIT} == {}
