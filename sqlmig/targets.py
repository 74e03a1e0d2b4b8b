"""The targets of a fleet: read from the configuration, expanded, selected and sharded.

The ``targets`` table of sqlmig.toml (or ``[tool.sqlmig]``) names each target: a value
that is a URL is one database; a table is a group of generated targets, either
``{ file = "..." }`` (one URL per line) or ``{ url = "...", tenants = "SELECT ..." }``
(schema-per-tenant: the query, run on that database, returns the tenant schemas).
Everything but the tenants query is checked before anything connects. ``${NAME}`` in a
URL is replaced by the environment variable NAME, so credentials need not be written
down.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlmig.config import Settings, mask_url, parse_url, read_config
from sqlmig.errors import BackendError, ConfigError
from sqlmig.models import Target

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")  # a configured name: no '.' or '/'
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")
GROUP_KEYS = {"file": ("file",), "tenants": ("url", "tenants")}


@dataclass(frozen=True)
class Group:
    """A configured name: one database (``members`` of one, named like the group), a list
    file (``members`` read from it), or tenants (found by ``query`` on ``url``)."""

    name: str
    members: tuple[Target, ...] = ()
    url: str = field(default="", repr=False)
    query: str | None = None

    @property
    def single(self) -> bool:
        return self.query is None and len(self.members) == 1 and self.members[0].name == self.name


def read_groups(cwd: Path | None = None) -> list[Group]:
    """The ``targets`` table, checked (URLs parsed, list files read); [] without one."""
    data, path = read_config(cwd)
    table = data.get("targets")
    if table is None:
        return []
    where = f"{path}: targets"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table of named targets")
    base = path.parent if path else Path.cwd()
    return [_group(where, name, value, base) for name, value in table.items()]


def _group(where: str, name: str, value: Any, base: Path) -> Group:
    if not NAME_RE.match(name):
        raise ConfigError(
            f"{where}: target name {name!r}: use letters, digits, '_' and '-', starting with a "
            "letter or digit"
        )
    if isinstance(value, str):
        url = _url(f"{where}.{name}", value)
        return Group(name, (Target(name, url),))
    if not isinstance(value, dict):
        raise ConfigError(f"{where}.{name}: a URL, or a table with file or url and tenants")
    kind = next((k for k, keys in GROUP_KEYS.items() if set(value) == set(keys)), None)
    if kind is None:
        raise ConfigError(
            f'{where}.{name}: unknown form {sorted(value)}; use {{ file = "urls.txt" }} or '
            '{ url = "postgresql://...", tenants = "SELECT ..." }'
        )
    if not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(f"{where}.{name}: the values must be strings")
    if kind == "file":
        file = Path(value["file"])
        return Group(
            name, _read_list(f"{where}.{name}", name, file if file.is_absolute() else base / file)
        )
    url = _url(f"{where}.{name}", value["url"])
    if parse_url(url).dialect != "postgres":
        raise ConfigError(f"{where}.{name}: tenant schemas need a PostgreSQL url")
    if not value["tenants"].strip():
        raise ConfigError(f"{where}.{name}: tenants is an empty query")
    return Group(name, url=url, query=value["tenants"])


def _url(where: str, raw: str) -> str:
    def env(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is None:
            raise ConfigError(f"{where}: environment variable {match.group(1)} is not set")
        return value

    url = _ENV.sub(env, raw)
    try:
        parse_url(url)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return url


def _read_list(where: str, group: str, path: Path) -> tuple[Target, ...]:
    """Lines of ``URL`` or ``NAME URL``; blank lines and ``#`` comments are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read {path}: {getattr(exc, 'strerror', exc)}") from None
    members: dict[str, Target] = {}
    for n, line in enumerate(lines, 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) > 2:
            raise ConfigError(f"{path}:{n}: write URL or NAME URL, not {mask_url(line.strip())}")
        url = _url(f"{path}:{n}", words[-1])
        member = words[0] if len(words) == 2 else _derived_name(url)
        if "/" in member or not member:
            raise ConfigError(f"{path}:{n}: {member!r} cannot name a target: give NAME URL")
        if member in members:
            raise ConfigError(f"{path}:{n}: {group}/{member} is named twice: give NAME URL")
        members[member] = Target(f"{group}/{member}", url)
    return tuple(members.values())


def _derived_name(url: str) -> str:
    """A list line's target name when it gives none: the database's name."""
    parsed = parse_url(url)
    if parsed.dialect == "sqlite":
        return Path(parsed.sqlite_path).stem
    return urlsplit(mask_url(url)).path.lstrip("/") or "postgres"


def expand(groups: list[Group], settings: Settings) -> list[Target]:
    """Every target of ``groups``, in order, running each tenants query (which connects)."""
    found: list[Target] = []
    for group in groups:
        found += group.members if group.query is None else tenants(group, settings)
    return found


def tenants(group: Group, settings: Settings) -> tuple[Target, ...]:
    from sqlmig.engines import open_engine

    assert group.query is not None
    engine = open_engine(replace(settings, database_url=group.url, target=None), write=False)
    try:
        rows = engine.query(group.query)
    except BackendError as exc:
        raise ConfigError(f"targets.{group.name}: the tenants query failed: {exc}") from None
    finally:
        engine.close()
    names: list[str] = []
    for row in rows:
        if not row or not isinstance(row[0], str) or not row[0]:
            raise ConfigError(
                f"targets.{group.name}: the tenants query must return schema names (text), "
                f"not {row[0] if row else None!r}"
            )
        names.append(row[0])
    twice = sorted(n for n, k in Counter(names).items() if k > 1)
    if twice:
        raise ConfigError(f"targets.{group.name}: the tenants query returns {twice[0]!r} twice")
    return tuple(Target(f"{group.name}/{n}", group.url, tenant=n) for n in names)


def select(
    groups: list[Group], patterns: list[str], settings: Settings, *, every: bool
) -> list[Target]:
    """The targets ``patterns`` name, in configuration order (or all with ``every``).

    A pattern without '/' is matched (as a glob) against the configured names, and a
    group it matches brings all its members; one with '/' (``tenants/acme*``) against
    the members of the groups its first part matches. Only the groups a pattern can
    reach are expanded, so a tenants query runs only when it is needed.
    """
    if not groups:
        raise ConfigError("no targets: name them in a [targets] table of sqlmig.toml")
    if every:
        return expand(groups, settings)
    members: dict[str, tuple[Target, ...]] = {}

    def of(group: Group) -> tuple[Target, ...]:
        if group.name not in members:
            members[group.name] = group.members if group.query is None else tenants(group, settings)
        return members[group.name]

    chosen: set[str] = set()
    for pattern in patterns:
        head, slash, rest = pattern.partition("/")
        found = {
            t.name
            for g in groups
            if fnmatchcase(g.name, head) and not (slash and g.single)
            for t in of(g)
            if not slash or fnmatchcase(t.name.split("/", 1)[1], rest)
        }
        if not found:
            known = ", ".join(g.name for g in groups)
            raise ConfigError(f"--target {pattern}: no target matches (configured: {known})")
        chosen |= found
    return [t for g in groups if g.name in members for t in members[g.name] if t.name in chosen]


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` (1 <= I <= N): this runner's slice of the targets."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise ConfigError(f"--shard {text}: write I/N with 1 <= I <= N, e.g. --shard 2/4")
    return int(match.group(1)), int(match.group(2))


def shard_of(name: str, count: int) -> int:
    """Which of ``count`` shards (1-based) a target belongs to: a stable hash of its name
    alone, so adding or removing a target never moves another."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def shard(targets: list[Target], index: int, count: int) -> list[Target]:
    return [t for t in targets if shard_of(t.name, count) == index]


def backup_label(target: Target) -> str:
    """The start of a target's backup file names: its name, parts joined by '.', each part
    that has characters a file name should not, made safe and told apart by a hash."""
    parts = []
    for part in target.name.split("/", 1):
        if _SAFE.match(part):
            parts.append(part)
        else:
            digest = hashlib.sha256(part.encode()).hexdigest()[:8]
            parts.append(re.sub(r"[^A-Za-z0-9_.-]", "_", part) + "-" + digest)
    return ".".join(parts)
