"""Settings resolution (flags > environment > config file > defaults) and database URLs.

Credentials never leave this module unmasked: every URL shown anywhere goes through
``DatabaseUrl.masked`` and every message through ``DatabaseUrl.redact``.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, unquote_plus, urlsplit

from sqlmig.errors import ConfigError
from sqlmig.models import Target
from sqlmig.storedsql import DEFAULT_LIMIT

Dialect = Literal["sqlite", "postgres"]
DEFAULT_URL = "sqlite:///sqlmig.db"
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
JOURNAL_MODES = ("wal", "delete", "truncate", "persist", "memory", "off")


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed database URL; ``raw`` holds the secret and is never displayed."""

    raw: str
    dialect: Dialect
    sqlite_path: str = ""  # sqlite only: a file path or ":memory:"
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def masked(self) -> str:
        return mask_url(self.raw)

    def redact(self, text: str) -> str:
        """Remove every form of the password from an arbitrary message."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    @property
    def conninfo(self) -> str:
        """The URL libpq accepts (the SQLAlchemy-style '+driver' suffix removed)."""
        scheme, rest = self.raw.split("://", 1)
        return f"{scheme.split('+', 1)[0]}://{rest}"


# A password as libpq keywords ("host=db password=...") or as a URL query parameter.
_KEYWORD_PASSWORD = re.compile(r"(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")
_QUERY_PASSWORD = re.compile(r"(?i)([?&](?:ssl)?password=)([^&#]*)")


def _userinfo(url: str) -> tuple[str, str, str] | None:
    """(scheme://user, password, @rest) of a URL with a password, else None.

    Up to the last '@', not as urlsplit reads it: a generated password may hold '#',
    '?', '/' or even an unencoded '@', and libpq accepts most of those as they are.
    """
    if "://" not in url:
        return None
    scheme, rest = url.split("://", 1)
    at = rest.rfind("@")
    if at < 0 or ":" not in rest[:at]:
        return None
    user, password = rest[:at].split(":", 1)
    return f"{scheme}://{user}", password, rest[at:]


def mask_url(url: str) -> str:
    """The URL (or libpq keyword string) with any password replaced by ***."""
    if "://" not in url:
        return _KEYWORD_PASSWORD.sub(r"\1***", url)
    found = _userinfo(url)
    if found:
        url = f"{found[0]}:***{found[2]}"
    return _QUERY_PASSWORD.sub(r"\1***", url)


def _secrets(url: str) -> tuple[str, ...]:
    if "://" not in url:
        found = [m.group(2).strip("'") for m in _KEYWORD_PASSWORD.finditer(url)]
    else:
        found = [m.group(2) for m in _QUERY_PASSWORD.finditer(url)]
    userinfo = _userinfo(url)
    if userinfo:
        # Where libpq reads such a password differently (it stops at an unencoded '@', for
        # one), its pieces show up in its messages as a host name or a parameter.
        pieces = re.split(r"[@?#/]", userinfo[1])
        found += [userinfo[1], *(piece for piece in pieces if len(piece) >= 3)]
    # Raw, percent-decoded and form-decoded forms can all appear in a driver's message.
    out = {s for f in found if f for s in (f, unquote(f), unquote_plus(f))}
    return tuple(sorted(out, key=len, reverse=True))


def with_database(url: str, dbname: str) -> str:
    """``url`` with its database replaced by ``dbname``: same server, user and options."""
    scheme, rest = url.split("://", 1)
    server_at = rest.rfind("@") + 1
    end = re.compile(r"[/?#]").search(rest, server_at)
    server = rest[: end.start()] if end else rest
    options = re.compile(r"[?#]").search(rest, server_at)
    return f"{scheme}://{server}/{dbname}{rest[options.start() :] if options else ''}"


def parse_url(url: str) -> DatabaseUrl:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        rest = url[len("sqlite://") :]
        if not rest.startswith("/") or rest == "/":
            raise ConfigError(
                f"bad SQLite URL {mask_url(url)}: use sqlite:///relative.db or sqlite:////absolute.db"
            )
        return DatabaseUrl(url, "sqlite", sqlite_path=rest[1:])
    if scheme.split("+", 1)[0] in ("postgresql", "postgres"):
        masked = mask_url(url)  # urlsplit cannot read every password libpq accepts
        try:
            parts = urlsplit(masked)
            if "," not in parts.netloc:  # libpq's host1:port1,host2:port2 form is fine too
                parts.port  # noqa: B018 - validates the port early with a clear message
        except ValueError as exc:
            raise ConfigError(f"bad PostgreSQL URL {masked}: {exc}") from None
        return DatabaseUrl(url, "postgres", secrets=_secrets(url))
    raise ConfigError(
        f"unsupported database URL {mask_url(url)}: use sqlite:///path.db or postgresql://..."
    )


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know besides the command itself."""

    database_url: str = DEFAULT_URL
    dir: Path = Path("sql")
    table: str = "schema_version"
    schema: str | None = None
    lock_timeout: float = 30.0
    statement_timeout: float | None = None
    sqlite_journal_mode: str = "wal"
    # None: backup_folder's default, `backups` next to the SQLite file (or in the cwd).
    backup_dir: Path | None = None
    backup_keep: int | None = None  # keep only the newest K backups of a database
    # PostgreSQL: the schemas backups hold and restores replace, besides sqlmig's own;
    # None: every schema the connecting role owns.
    backup_schemas: list[str] | None = None
    seeds_dir: Path = Path("seeds")
    lint_from: int | None = None  # versions at or below it are not linted
    lint_rules: dict[str, str] = field(default_factory=dict)  # rule id -> error, warning, off
    pg_version: int | None = None  # PostgreSQL major version lint assumes without a server
    vars: dict[str, str] = field(default_factory=dict)  # :'name' values for migration files
    target: Target | None = None  # the fleet target this run is for (never from a file)
    # Where diff, test and apply --verify keep schema.sql's model; None: the user's cache
    # folder ($XDG_CACHE_HOME/sqlmig, else ~/.cache/sqlmig). ``cache`` False: keep none.
    cache_dir: Path | None = None
    cache: bool = True
    # Bytes: up and down files up to this size are kept with their version row as applied
    # (diffs in status and validate, rollback --from-database); larger ones keep only
    # their checksum. 0: keep none.
    stored_sql_limit: int = DEFAULT_LIMIT

    @property
    def url(self) -> DatabaseUrl:
        return parse_url(self.database_url)

    @property
    def backup_folder(self) -> Path:
        """Where backups go: ``backup_dir`` if set; else a `backups` folder next to the
        SQLite database file, so the process's cwd does not decide; for PostgreSQL (and
        an in-memory SQLite) `backups` in the current folder."""
        if self.backup_dir is not None:
            return self.backup_dir
        url = self.url
        if url.dialect == "sqlite" and url.sqlite_path != ":memory:":
            return Path(url.sqlite_path).absolute().parent / "backups"
        return Path("backups").absolute()

    @property
    def backup_by_default(self) -> bool:
        """SQLite's backup is a file copy, cheap enough to take every time; PostgreSQL's
        is a pg_dump of the whole database, so it is asked for."""
        return self.url.dialect == "sqlite"

    @property
    def history_table(self) -> str:
        return f"{self.table}_history"

    @property
    def meta_table(self) -> str:
        return f"{self.table}_meta"

    @property
    def own_tables(self) -> tuple[str, str, str, str]:
        """Every table sqlmig keeps: versions, history, seeds, meta."""
        return self.table, self.history_table, self.seeds_table, self.meta_table

    @property
    def seeds_table(self) -> str:
        return f"{self.table}_seeds"

    def checked(self) -> Settings:
        for f in fields(self):
            value = getattr(self, f.name)
            expected = _EXPECTED[f.name]
            mistaken_bool = isinstance(value, bool) and expected is not bool
            if not isinstance(value, expected) or mistaken_bool:
                shown = type(value).__name__ if f.name == "database_url" else repr(value)
                raise ConfigError(f"setting {f.name} = {shown} {wrong_type(value, expected)}")
        for label, value in (("table", self.table), ("schema", self.schema)):
            if value is not None and not IDENT_RE.match(value):
                raise ConfigError(
                    f"{label} name {value!r} is not a plain identifier "
                    "(letters, digits, _ and $, at most 63 characters)"
                )
        if self.sqlite_journal_mode.lower() not in JOURNAL_MODES:
            raise ConfigError(
                f"sqlite_journal_mode must be one of {', '.join(JOURNAL_MODES)}, "
                f"not {self.sqlite_journal_mode!r}"
            )
        for value in (self.lock_timeout, self.statement_timeout or 0):
            if not 0 <= value < 10**9:  # also refuses inf and nan, which no driver takes
                raise ConfigError(f"timeouts must be seconds from 0 to 10^9, not {value}")
        if self.backup_schemas is not None and not all(
            isinstance(name, str) and name for name in self.backup_schemas
        ):
            raise ConfigError("backup_schemas must be a list of schema names")
        if self.stored_sql_limit < 0:
            raise ConfigError(
                f"stored_sql_limit must be a size in bytes, 0 or more, not {self.stored_sql_limit}"
            )
        if self.backup_keep is not None and self.backup_keep < 1:
            raise ConfigError("backup_keep must be 1 or more (leave it unset to keep every backup)")
        self._check_lint()
        self.url  # noqa: B018 - parse now so a bad URL fails before anything else
        self._check_fleet()
        return self

    def _check_fleet(self) -> None:
        if self.vars:
            from sqlmig.variables import check_names

            check_names(self.vars, "vars")
        tenant = self.target.tenant if self.target else None
        if tenant is None:
            return
        if self.url.dialect != "postgres":
            raise ConfigError(f"tenant schema {tenant!r}: tenant schemas need PostgreSQL")
        if not 0 < len(tenant.encode()) <= 63 or "\0" in tenant:
            raise ConfigError(f"tenant schema {tenant!r}: a schema name is 1 to 63 bytes")

    def _check_lint(self) -> None:
        if self.lint_from is not None and self.lint_from < 0:
            raise ConfigError(f"lint_from must be a version, 0 or more, not {self.lint_from}")
        if self.pg_version is not None and not 10 <= self.pg_version < 100:
            raise ConfigError(
                f"pg_version must be a PostgreSQL major version such as 16, not {self.pg_version}"
            )
        if self.lint_rules:
            from sqlmig.lint.rules import check_rule_settings

            problems = check_rule_settings(dict(self.lint_rules))
            if problems:
                raise ConfigError("lint_rules: " + "; ".join(problems))


_EXPECTED: dict[str, type | tuple[type, ...]] = {
    "database_url": str,
    "dir": Path,
    "table": str,
    "schema": (str, type(None)),
    "lock_timeout": (int, float),
    "statement_timeout": (int, float, type(None)),
    "sqlite_journal_mode": str,
    "backup_dir": (Path, type(None)),
    "backup_keep": (int, type(None)),
    "backup_schemas": (list, type(None)),
    "seeds_dir": Path,
    "lint_from": (int, type(None)),
    "lint_rules": dict,
    "pg_version": (int, type(None)),
    "vars": dict,
    "target": (Target, type(None)),
    "cache_dir": (Path, type(None)),
    "cache": bool,
    "stored_sql_limit": int,
}
PATH_SETTINGS = ("dir", "backup_dir", "seeds_dir")

_KINDS = {
    str: "a string",
    Path: "a path (a string)",
    int: "a whole number",
    float: "a number",
    list: "a list",
    dict: "a table (a dict)",
    bool: "true or false",
}


def wrong_type(value: object, expected: type | tuple[type, ...]) -> str:
    """What is wrong with ``value``'s type, naming the type expected: "30" in quotes is a
    string to TOML, and a bare "wrong type" leaves the reader to guess which is meant."""
    kinds = expected if isinstance(expected, tuple) else (expected,)
    wanted = [t for t in kinds if t is not type(None)]
    if float in wanted:  # int, float: any number
        wanted = [float]
    names = " or ".join(_KINDS.get(t, t.__name__) for t in wanted)
    got = "a decimal number" if type(value) is float else _KINDS.get(type(value), "a value")
    hint = ""
    if isinstance(value, str) and (int in wanted or float in wanted):
        with contextlib.suppress(ValueError):
            (float if float in wanted else int)(value)
            hint = " (write it without quotes)"
    return f"has the wrong type: expected {names}, not {got}{hint}"


def _read_config_file(cwd: Path) -> tuple[dict[str, Any], Path | None]:
    for name, section in (("sqlmig.toml", None), ("pyproject.toml", "tool.sqlmig")):
        path = cwd / name
        if not path.is_file():
            continue
        import tomllib  # only where there is a file to read: it costs a few ms to import

        try:
            data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        if section:
            data = data.get("tool", {}).get("sqlmig")
            if data is None:
                continue
        return data, path
    return {}, None


def read_config(cwd: Path | None = None) -> tuple[dict[str, Any], Path | None]:
    """The config file's settings (sqlmig.toml, else [tool.sqlmig]) and where it is."""
    return _read_config_file(cwd or Path.cwd())


def load_settings(overrides: dict[str, Any], cwd: Path | None = None) -> Settings:
    """Merge flags (``overrides``, None meaning unset), DATABASE_URL, the config file, defaults."""
    cwd = cwd or Path.cwd()
    data, path = _read_config_file(cwd)
    # `targets` is the fleet's (sqlmig.targets reads it); `target` is set per target only.
    known = {f.name for f in fields(Settings)} - {"target"} | {"targets"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    values: dict[str, Any] = {k: v for k, v in data.items() if k != "targets"}
    if os.environ.get("DATABASE_URL"):
        values["database_url"] = os.environ["DATABASE_URL"]
    given = {k: v for k, v in overrides.items() if v is not None}
    if "vars" in given and isinstance(values.get("vars"), dict):  # --var adds to the file's
        given["vars"] = {**values["vars"], **given["vars"]}
    values.update(given)
    for name in (*PATH_SETTINGS, "cache_dir"):
        # Relative paths from the config file are relative to it; from flags, to the cwd.
        value = values.get(name, getattr(Settings, name))
        if name == "backup_dir" and value is None:
            continue  # the default depends on the database: Settings.backup_folder
        if name == "cache_dir" and value in (None, ""):
            if value == "":
                raise ConfigError("cache_dir must name a folder; cache = false turns it off")
            continue  # the default, found where it is used
        if not isinstance(value, str | Path):
            raise ConfigError(f"setting {name} = {value!r} {wrong_type(value, Path)}")
        base = path.parent if path and name in data and overrides.get(name) is None else cwd
        values[name] = Path(value) if Path(value).is_absolute() else base / value
    try:
        settings = replace(Settings(), **values)
    except TypeError as exc:
        raise ConfigError(f"bad settings: {exc}") from None
    return settings.checked()
