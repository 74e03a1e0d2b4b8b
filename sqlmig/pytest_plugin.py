"""sqlmig's pytest plugin: a scratch database the project's migrations ran in, on either
engine, and the checks `sqlmig test` makes, as test items a project switches on.

pytest loads it through the ``pytest11`` entry point of the installed distribution, so
this is the only module of sqlmig that imports pytest, and ``import sqlmig`` never loads
it. It never connects to the project's configured database: SQLite databases are files in
the test's ``tmp_path``, PostgreSQL ones are created on the server named by
``--sqlmig-pg-url`` (or ``SQLMIG_PG_URL``, or the ``sqlmig_pg_url`` ini setting) and
dropped after.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sqlmig.config import Settings
    from sqlmig.migrator import Migrator
    from sqlmig.models import RunResult

ENGINES = ("sqlite", "postgres")
CHECKS = {
    "roundtrip": "every migration up, down and up again gives the schema it should",
    "schema": "the migrations build exactly schema.sql",
}
PG_URL_ENV = "SQLMIG_PG_URL"


class SqlmigWarning(UserWarning):
    """Something a check found that does not fail it (a down file without statements)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sqlmig", "sqlmig migrations")
    group.addoption(
        "--sqlmig-engine",
        action="append",
        choices=ENGINES,
        help="engine of the sqlmig fixtures and checks; twice for both "
        "[default: the project's database_url's]",
    )
    group.addoption(
        "--sqlmig-pg-url",
        help=f"PostgreSQL server where test databases are created and dropped (else "
        f"${PG_URL_ENV}, else the sqlmig_pg_url ini setting); never the project's database",
    )
    group.addoption("--sqlmig-dir", help="migration folder [default: the project's `dir`]")
    group.addoption(
        "--sqlmig-check",
        action="append",
        choices=sorted(CHECKS),
        help="add a built-in check as a test item: "
        + "; ".join(f"{k}: {v}" for k, v in CHECKS.items()),
    )
    parser.addini("sqlmig_engines", "engines of the sqlmig fixtures and checks", type="args")
    parser.addini("sqlmig_pg_url", "PostgreSQL server for test databases")
    parser.addini("sqlmig_dir", "migration folder, relative to the rootdir")
    parser.addini("sqlmig_checks", "built-in checks to add: roundtrip, schema", type="args")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlmig: a built-in sqlmig check")
    for name, known in (("sqlmig_engines", ENGINES), ("sqlmig_checks", tuple(CHECKS))):
        wrong = [v for v in config.getini(name) if v not in known]
        if wrong:
            raise pytest.UsageError(
                f"{name}: unknown {', '.join(wrong)}; known: {', '.join(known)}"
            )


def _engines(config: pytest.Config) -> list[str]:
    chosen = config.getoption("sqlmig_engine") or config.getini("sqlmig_engines")
    return list(dict.fromkeys(chosen)) or [_project(config).url.dialect]


def _project(config: pytest.Config, **overrides: Any) -> Settings:
    """The project's settings (sqlmig.toml or pyproject.toml at the rootdir), with the
    migration folder the options name and ``overrides``."""
    from sqlmig.config import load_settings
    from sqlmig.errors import SqlmigError

    folder = config.getoption("sqlmig_dir") or config.getini("sqlmig_dir") or None
    if folder is not None:
        folder = config.rootpath / folder
    try:
        return load_settings({"dir": folder, **overrides}, config.rootpath)
    except SqlmigError as exc:
        raise pytest.UsageError(f"sqlmig: {exc}") from None


def _pg_server(config: pytest.Config) -> str:
    url = (
        config.getoption("sqlmig_pg_url")
        or os.environ.get(PG_URL_ENV)
        or config.getini("sqlmig_pg_url")
    )
    if not url:
        pytest.fail(
            "sqlmig: PostgreSQL tests need a server to create their databases on: pass "
            f"--sqlmig-pg-url, set {PG_URL_ENV} or the sqlmig_pg_url ini setting (a role "
            "with CREATEDB; never the application's database)",
            pytrace=False,
        )
    return str(url)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "sqlmig_engine" in metafunc.fixturenames:
        engines = _engines(metafunc.config)
        if len(engines) > 1:
            metafunc.parametrize("sqlmig_engine", engines, indirect=True)


@pytest.fixture
def sqlmig_engine(request: pytest.FixtureRequest) -> str:
    """The engine of this test's sqlmig database: sqlite or postgres."""
    return str(getattr(request, "param", None) or _engines(request.config)[0])


@pytest.fixture
def sqlmig_url(request: pytest.FixtureRequest, sqlmig_engine: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of its own: a SQLite file in ``tmp_path``, or a
    PostgreSQL database created for the test and dropped after it."""
    if sqlmig_engine == "sqlite":
        yield f"sqlite:///{tmp_path / 'sqlmig-test.db'}"
        return
    with _pg_database(_pg_server(request.config)) as url:
        yield url


@pytest.fixture
def sqlmig_db(request: pytest.FixtureRequest, sqlmig_url: str) -> Iterator[Database]:
    """The project's migrations and an empty database: nothing applied yet. Move it with
    ``to(version)`` and ``apply()``; put rows in between with ``execute``."""
    db = Database(_project(request.config, database_url=sqlmig_url))
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def migrated(sqlmig_db: Database) -> Database:
    """``sqlmig_db`` with every migration applied."""
    sqlmig_db.apply()
    return sqlmig_db


class Database:
    """A test's own database and the project's migrations, through sqlmig's library API."""

    def __init__(self, settings: Settings) -> None:
        from sqlmig.migrator import Migrator

        self.migrator: Migrator = Migrator(settings=settings)
        self.url = settings.database_url
        self.dialect = settings.url.dialect
        self._conn: Any = None

    def __repr__(self) -> str:
        return f"<sqlmig test database {self.migrator.settings.url.masked}>"

    @property
    def version(self) -> int:
        """The newest version applied whole (0: none)."""
        from sqlmig.models import database_version

        return database_version(self.migrator.applied())

    def apply(self, to: int | None = None) -> RunResult:
        """Apply the pending migrations, up to version ``to`` if given (no backup)."""
        return self.migrator.apply(to, backup=False)

    def rollback(self, to: int) -> RunResult:
        """Run the down files of every version above ``to``."""
        return self.migrator.rollback(to=to, backup=False)

    def to(self, version: int) -> Database:
        """Apply, or roll back, until the database is at ``version``."""
        if version > self.version:
            self.apply(version)
        elif version < self.version:
            self.rollback(version)
        return self

    def execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> None:
        """Run one statement, committed at once; parameters in the driver's style (``?``
        for sqlite3, ``%s`` for psycopg)."""
        self._connection().execute(sql, self._params(params))

    def query(
        self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        """The rows of one statement."""
        return list(self._connection().execute(sql, self._params(params)).fetchall())

    def _params(self, params: tuple[Any, ...] | dict[str, Any]) -> Any:
        # psycopg reads % in a statement as a placeholder only when given parameters.
        return (params or None) if self.dialect == "postgres" else params

    def _connection(self) -> Any:
        # Autocommit on both engines: a test's rows are there for the next migration, and
        # no open transaction of the test's holds a lock a migration would wait for.
        if self._conn is None:
            if self.dialect == "sqlite":
                import sqlite3

                self._conn = sqlite3.connect(
                    self.migrator.settings.url.sqlite_path, isolation_level=None
                )
            else:
                import psycopg

                self._conn = psycopg.connect(self.migrator.settings.url.conninfo, autocommit=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.migrator.close()


@contextmanager
def _pg_database(server: str) -> Iterator[str]:
    import psycopg

    from sqlmig.config import parse_url, with_database
    from sqlmig.errors import SqlmigError

    try:
        url = parse_url(server)
    except SqlmigError as exc:
        pytest.fail(f"sqlmig: --sqlmig-pg-url: {exc}", pytrace=False)
    name = f"sqlmig_test_{os.urandom(5).hex()}"
    try:
        with psycopg.connect(url.conninfo, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        message = f"sqlmig: cannot create a test database on {url.masked}: {exc}".strip()
        pytest.fail(url.redact(message) + " (the role needs CREATEDB)", pytrace=False)
    try:
        yield with_database(url.raw, name)
    finally:
        with psycopg.connect(url.conninfo, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- the built-in checks ----------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)  # before -k and -m choose among the items
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    checks = config.getoption("sqlmig_check") or config.getini("sqlmig_checks")
    # Tests named one by one (path::test) are what was asked for, and nothing else.
    if not checks or any("::" in arg for arg in config.args):
        return
    node = MigrationSet.from_parent(session, path=_project(config).dir)
    # Collected as pytest collects any file: counted, and a failure is a collection error.
    report = node.ihook.pytest_make_collect_report(collector=node)
    node.ihook.pytest_collectreport(report=report)
    items.extend(x for x in report.result if isinstance(x, pytest.Item))


class MigrationSet(pytest.File):
    """The migration folder, as the parent of the checks switched on for it."""

    def collect(self) -> Iterator[pytest.Item]:
        config = self.config
        for check in dict.fromkeys(
            config.getoption("sqlmig_check") or config.getini("sqlmig_checks")
        ):
            for engine in _engines(config):
                yield Check.from_parent(self, name=f"{check}[{engine}]", check=check, engine=engine)


class CheckFailed(Exception):
    """A check's problems, shown as they are, without a traceback."""


class Check(pytest.Item):
    def __init__(self, *, check: str, engine: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check, self.engine = check, engine
        self.add_marker("sqlmig")

    def runtest(self) -> None:
        from sqlmig.errors import SqlmigError

        try:
            problems = run_check(self.config, self.check, self.engine)
        except SqlmigError as exc:
            raise CheckFailed(str(exc)) from None
        if problems:
            raise CheckFailed("\n".join(f"  - {p}" for p in problems))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CheckFailed):
            return f"sqlmig {self.check} check failed on {self.engine}:\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"sqlmig {self.check} check [{self.engine}]: {CHECKS[self.check]}"


def run_check(config: pytest.Config, check: str, engine: str) -> list[str]:
    """The problems ``check`` finds on ``engine``, in scratch databases (as `sqlmig test`)."""
    from sqlmig.discovery import load_migrations
    from sqlmig.schema.roundtrip import roundtrip

    server = _pg_server(config) if engine == "postgres" else None
    # Never opened: the scratch databases are in memory (SQLite) or made on the server.
    settings = _project(config, database_url=server or "sqlite:///:memory:")
    migrations = load_migrations(settings.dir, settings.url.dialect, settings.sqlite_journal_mode)
    baseline = settings.dir / "schema.sql"
    if check == "schema" and not baseline.is_file():
        return [f"{baseline} not found: write it with `sqlmig dump --from-migrations`"]
    trip = roundtrip(
        settings,
        migrations,
        baseline if check == "schema" else None,
        server,
        downs=check == "roundtrip",
    )
    for label in trip.empty_downs:
        warnings.warn(
            f"{label}: its down file has no statements, so a rollback undoes nothing",
            SqlmigWarning,
            stacklevel=1,
        )
    return list(trip.problems)
