"""pg_restore's archives and scripts, read as text: the entries of ``pg_restore -l``,
the roles its privilege statements name, the header that lifts the timeouts.

What the listing does not quote (names with spaces) is told apart by the schemas and
roles that exist; what the script says is matched line by line, only where pg_dump
writes it (never inside data or a function body).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# pg_restore -l: "ID; CATALOG OID DESC NAMESPACE TAG OWNER"; DESC may have spaces.
_DESCS = sorted(
    (
        "ACCESS METHOD", "BLOB METADATA", "CHECK CONSTRAINT", "DATABASE PROPERTIES",
        "DEFAULT ACL", "EVENT TRIGGER", "FK CONSTRAINT", "FOREIGN DATA WRAPPER",
        "FOREIGN SERVER", "FOREIGN TABLE", "INDEX ATTACH", "LARGE OBJECT", "LARGE OBJECTS",
        "MATERIALIZED VIEW", "MATERIALIZED VIEW DATA", "OPERATOR CLASS", "OPERATOR FAMILY",
        "PROCEDURAL LANGUAGE", "PUBLICATION TABLE", "PUBLICATION TABLES IN SCHEMA",
        "ROW SECURITY", "SECURITY LABEL", "SEQUENCE OWNED BY", "SEQUENCE SET", "SHELL TYPE",
        "STATISTICS DATA", "SUBSCRIPTION TABLE", "TABLE ATTACH", "TABLE DATA",
        "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY", "TEXT SEARCH PARSER",
        "TEXT SEARCH TEMPLATE", "USER MAPPING",
    ),
    key=len,
    reverse=True,
)  # fmt: skip
_TOC_LINE = re.compile(r"^(\d+); (\d+) (\d+) (.*)$")
_ROLE = r'("(?:[^"]|"")+"|[^\s;,"]+)'
# Where pg_dump's privilege statements name roles: the grantee ends the statement (an
# object's name can hold " TO "), the grantor follows SET SESSION AUTHORIZATION, and
# default privileges belong to FOR ROLE.
_ROLES_NAMED = (
    re.compile(rf"^(?:GRANT|REVOKE) .* (?:TO|FROM) {_ROLE}(?: WITH GRANT OPTION| CASCADE)?;$"),
    re.compile(rf"^ALTER DEFAULT PRIVILEGES FOR ROLE {_ROLE} .* (?:TO|FROM) {_ROLE}(?: .*)?;$"),
    re.compile(rf"^SET SESSION AUTHORIZATION {_ROLE};$"),
)
_HEADER_TIMEOUT = re.compile(r"^SET (lock_timeout|statement_timeout) = 0;$")


@dataclass(frozen=True, slots=True)
class TocEntry:
    line: str
    desc: str
    namespace: str | None
    tag: str
    owner: str | None

    @property
    def schema_level(self) -> str | None:
        """The schema this entry creates or describes (its comment, privileges, label)."""
        if self.namespace is not None:
            return None
        if self.desc == "SCHEMA":
            return self.tag
        if self.desc in ("COMMENT", "ACL", "SECURITY LABEL") and self.tag.startswith("SCHEMA "):
            return self.tag.removeprefix("SCHEMA ")
        return None


def parse_toc(listing: str, schemas: Iterable[str], roles: Iterable[str]) -> list[TocEntry]:
    """The entries of a ``pg_restore -l`` listing. Names with spaces are told apart by
    the schemas and roles that exist and the schemas the archive creates (the listing
    does not quote them)."""
    known_roles = sorted(roles, key=len, reverse=True)
    rows = [(line, m[4]) for line in listing.splitlines() if (m := _TOC_LINE.match(line))]
    created = [_split(rest, [], known_roles)[2] for _, rest in rows if rest.startswith("SCHEMA - ")]
    known_schemas = sorted({*schemas, *created}, key=len, reverse=True)
    entries = []
    for line, rest in rows:
        desc, namespace, tag, owner = _split(rest, known_schemas, known_roles)
        entries.append(TocEntry(line, desc, _unless_dash(namespace), tag, _unless_dash(owner)))
    return entries


def _split(rest: str, schemas: list[str], roles: list[str]) -> tuple[str, str, str, str]:
    """ "DESC NAMESPACE TAG OWNER" into its four parts."""
    desc = next((d for d in _DESCS if rest.startswith(d + " ")), rest.split(" ", 1)[0])
    rest = rest[len(desc) + 1 :]
    namespace = next((s for s in schemas if rest.startswith(s + " ")), rest.split(" ", 1)[0])
    rest = rest[len(namespace) + 1 :]
    owner = next((r for r in roles if rest.endswith(" " + r)), rest.rsplit(" ", 1)[-1])
    tag = rest[: -len(owner) - 1] if rest.endswith(" " + owner) else rest
    return desc, namespace, tag, owner


def _unless_dash(value: str) -> str | None:
    return None if value == "-" else value


def grantees(acl_script: str) -> set[str]:
    """Every role the backup's GRANT, REVOKE and ALTER DEFAULT PRIVILEGES statements
    name (PUBLIC is not a role)."""
    found = set()
    for line in acl_script.splitlines():
        for pattern in _ROLES_NAMED:
            if match := pattern.match(line):
                found |= {_unquote(name) for name in match.groups() if name != "PUBLIC"}
    return found


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def as_grantor(acl_script: str, superuser: bool, roles: dict[str, bool]) -> str:
    """The backup's privileges as the restoring role may grant them. pg_dump marks a
    grant made by someone other than the owner with SET SESSION AUTHORIZATION, which
    only a superuser may run: anyone else grants as that role if it can act as it,
    else as itself."""
    if superuser:
        return acl_script
    return "".join(_as_grantor(line, roles) + "\n" for line in acl_script.splitlines())


def _as_grantor(line: str, roles: dict[str, bool]) -> str:
    if line == "RESET SESSION AUTHORIZATION;":
        return "RESET ROLE;"
    if not line.startswith("SET SESSION AUTHORIZATION "):
        return line
    role = line.removeprefix("SET SESSION AUTHORIZATION ").rstrip(";")
    return f"SET ROLE {role};" if roles.get(_unquote(role)) else ""


class HeaderTimeouts:
    """pg_restore's script begins by lifting both timeouts: put --lock-timeout and
    --statement-timeout back, in its header only (never in data or a function body)."""

    def __init__(self, lock_ms: int, statement_ms: int) -> None:
        self.ms = {"lock_timeout": lock_ms, "statement_timeout": statement_ms}
        self.in_header = True

    def __call__(self, line: str) -> str:
        if not self.in_header:
            return line
        if line.startswith("SET row_security"):  # the header's last setting
            self.in_header = False
        match = _HEADER_TIMEOUT.match(line.rstrip("\n"))
        return f"SET {match[1]} = {self.ms[match[1]]};\n" if match else line
