"""Settings resolution (flags > environment > config file > defaults) and database URLs.

Credentials never leave this module unmasked: every URL shown anywhere goes through
``DatabaseUrl.masked`` and every message through ``DatabaseUrl.redact``.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from sqlmig.errors import ConfigError

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


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***; unchanged when it has none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if not parts.password and "password" not in parts.query.lower():
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if k.lower() in ("password", "sslpassword") else v) for k, v in pairs],
            safe="*",
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secrets(url: str) -> tuple[str, ...]:
    parts = urlsplit(url)
    found = []
    if parts.password:
        found.append(parts.password)
    found += [v for k, v in parse_qsl(parts.query) if k.lower() in ("password", "sslpassword")]
    # Both the raw and the percent-decoded form can appear in a driver's message.
    out = {s for f in found if f for s in (f, unquote(f))}
    return tuple(sorted(out, key=len, reverse=True))


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
        try:
            urlsplit(url).port  # noqa: B018 - validates the port early with a clear message
        except ValueError as exc:
            raise ConfigError(f"bad PostgreSQL URL {mask_url(url)}: {exc}") from None
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
    backup_dir: Path = Path("backups")
    backup_keep: int | None = None  # keep only the newest K backups of a database
    seeds_dir: Path = Path("seeds")

    @property
    def url(self) -> DatabaseUrl:
        return parse_url(self.database_url)

    @property
    def history_table(self) -> str:
        return f"{self.table}_history"

    @property
    def seeds_table(self) -> str:
        return f"{self.table}_seeds"

    def checked(self) -> Settings:
        for f in fields(self):
            value = getattr(self, f.name)
            expected = _EXPECTED[f.name]
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ConfigError(f"setting {f.name} = {value!r} has the wrong type")
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
        if self.lock_timeout < 0 or (self.statement_timeout or 0) < 0:
            raise ConfigError("timeouts must not be negative")
        if self.backup_keep is not None and self.backup_keep < 1:
            raise ConfigError("backup_keep must be 1 or more (leave it unset to keep every backup)")
        self.url  # noqa: B018 - parse now so a bad URL fails before anything else
        return self


_EXPECTED: dict[str, type | tuple[type, ...]] = {
    "database_url": str,
    "dir": Path,
    "table": str,
    "schema": (str, type(None)),
    "lock_timeout": (int, float),
    "statement_timeout": (int, float, type(None)),
    "sqlite_journal_mode": str,
    "backup_dir": Path,
    "backup_keep": (int, type(None)),
    "seeds_dir": Path,
}
PATH_SETTINGS = ("dir", "backup_dir", "seeds_dir")


def _read_config_file(cwd: Path) -> tuple[dict[str, Any], Path | None]:
    for name, section in (("sqlmig.toml", None), ("pyproject.toml", "tool.sqlmig")):
        path = cwd / name
        if not path.is_file():
            continue
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


def load_settings(overrides: dict[str, Any], cwd: Path | None = None) -> Settings:
    """Merge flags (``overrides``, None meaning unset), DATABASE_URL, the config file, defaults."""
    cwd = cwd or Path.cwd()
    data, path = _read_config_file(cwd)
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    values: dict[str, Any] = dict(data)
    if os.environ.get("DATABASE_URL"):
        values["database_url"] = os.environ["DATABASE_URL"]
    values.update({k: v for k, v in overrides.items() if v is not None})
    for name in PATH_SETTINGS:
        # Relative paths from the config file are relative to it; from flags, to the cwd.
        value = values.get(name, getattr(Settings, name))
        if not isinstance(value, str | Path):
            raise ConfigError(f"setting {name} = {value!r} has the wrong type")
        base = path.parent if path and name in data and overrides.get(name) is None else cwd
        values[name] = Path(value) if Path(value).is_absolute() else base / value
    try:
        settings = replace(Settings(), **values)
    except TypeError as exc:
        raise ConfigError(f"bad settings: {exc}") from None
    return settings.checked()
