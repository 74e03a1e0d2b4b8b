"""Fixtures: real SQLite files and a real PostgreSQL server, one fresh database per test."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.pgcluster import Cluster, start_cluster

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative defaults (backups/, seeds/, sqlmig.db) land in the test's own folder, and
    the baseline cache in one of its own beside it: no test sees another's entries."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path.with_name(f"{tmp_path.name}-cache")))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster | str]:
    external = os.environ.get("SQLMIG_TEST_PG_URL")
    if external:
        yield external
        return
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


def _admin(pg_cluster: Cluster | str) -> str:
    return pg_cluster if isinstance(pg_cluster, str) else pg_cluster.admin_url


def _with_db(admin_url: str, dbname: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{dbname}"


@pytest.fixture
def pg_url(pg_cluster: Cluster | str) -> Iterator[str]:
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = _admin(pg_cluster)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield _with_db(admin, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The same behavioural test on both engines."""
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


MigrationWriter = Callable[..., Path]


@pytest.fixture
def write_migration(tmp_path: Path) -> MigrationWriter:
    """Write ``sql/up/NNNN_name.sql`` and its down file under tmp_path; return the folder."""
    folder = tmp_path / "sql"

    def write(version: int, name: str, up: str, down: str = "SELECT 1;") -> Path:
        for sub, text in (("up", up), ("down", down)):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            (folder / sub / f"{version:04d}_{name}.sql").write_text(textwrap.dedent(text))
        return folder

    (folder / "up").mkdir(parents=True, exist_ok=True)
    (folder / "down").mkdir(parents=True, exist_ok=True)
    return write
