"""Variables in migration and seed files: psql's ``:'name'`` (a literal) and ``:"name"``
(an identifier), and no other form.

Values come from the fleet target (``tenant``, ``schema``, ``target``), from the ``vars``
setting and from ``--var``. The splitter's lexer finds the references, so none is ever
substituted inside a string, a comment or a dollar-quoted body, and ``::"type"`` stays a
cast; a value is always quoted for the dialect, never pasted in raw. The checksum, the
statements in errors and history, and lint all see the file as written: substitution
happens on the way to the database only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmig.errors import ConfigError, Problem
from sqlmig.splitter import Dialect, variables

if TYPE_CHECKING:
    from sqlmig.config import Settings
    from sqlmig.models import SqlFile

BUILTINS = ("tenant", "schema", "target")  # set per fleet target, never by hand
NAME_RE = re.compile(r"^[^\W\d]\w*$")


def parse_assignments(given: Iterable[str]) -> dict[str, str]:
    """``--var name=value`` options as a mapping; a later one wins."""
    found = {}
    for item in given:
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--var {item!r}: write --var name=value")
        found[name.strip()] = value
    check_names(found, "--var")
    return found


def check_names(values: Mapping[str, object], where: str) -> None:
    """Refuse names psql's syntax cannot reference, the built-ins, and unusable values."""
    for name, value in values.items():
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ConfigError(
                f"{where}: {name!r} is not a variable name (a letter or _, then letters, "
                "digits and _)"
            )
        if name in BUILTINS:
            raise ConfigError(
                f"{where}: {name} is set per target (tenant, schema, target), not by hand"
            )
        if not isinstance(value, str):
            raise ConfigError(f"{where}: the value of {name} must be a string, not {value!r}")
        if "\0" in value:
            raise ConfigError(f"{where}: the value of {name} holds a NUL character")


def declared(settings: Settings) -> set[str]:
    """The names a run with ``settings`` may reference."""
    return set(settings.vars) | (set(BUILTINS) if settings.target else set())


def values(settings: Settings, home: str | None) -> dict[str, str]:
    """Every declared variable's value, for a run whose sqlmig tables live in ``home``
    (a PostgreSQL schema; None on SQLite, whose database is schema ``main``)."""
    found = dict(settings.vars)
    target = settings.target
    if target is not None:
        member = target.name.rsplit("/", 1)[-1]
        found |= {"target": target.name, "tenant": target.tenant or member}
        found["schema"] = home or "main"
    return found


def problems(files: Iterable[SqlFile], dialect: Dialect, names: set[str]) -> list[Problem]:
    """Every reference to a variable not in ``names``, with its file and line."""
    found = []
    for file in files:
        for ref in variables(file.text, dialect):
            if ref.name not in names:
                line = file.text.count("\n", 0, ref.start) + 1
                found.append(Problem(f"line {line}: {_undeclared(ref.name)}", file.path))
    return found


def check(files: Iterable[SqlFile], dialect: Dialect, names: set[str]) -> None:
    """Raise before anything connects if a file references an undeclared variable."""
    found = problems(files, dialect, names)
    if found:
        listed = "\n".join(f"  - {p}" for p in found)
        raise ConfigError(f"{len(found)} unknown variable(s), nothing was run:\n{listed}")


def _undeclared(name: str) -> str:
    if name in BUILTINS:
        return (
            f"variable {name} is set per target: run with --target NAME or --all-targets "
            "(targets in sqlmig.toml)"
        )
    return f"variable {name} is not declared: give --var {name}=VALUE, or add it to vars"


def quote(value: str, identifier: bool, dialect: Dialect) -> str:
    if identifier:
        return '"' + value.replace('"', '""') + '"'
    if dialect == "postgres" and "\\" in value:
        # As libpq's PQescapeLiteral: an E'' string reads the same whatever
        # standard_conforming_strings is; the space keeps it from joining a word before it.
        return " E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    return "'" + value.replace("'", "''") + "'"


def substitute(text: str, dialect: Dialect, values: Mapping[str, str]) -> str:
    """``text`` with every reference replaced by its value, quoted."""
    refs = variables(text, dialect)
    if not refs:
        return text
    parts = []
    last = 0
    for ref in refs:
        if ref.name not in values:
            raise ConfigError(_undeclared(ref.name))
        parts += [text[last : ref.start], quote(values[ref.name], ref.identifier, dialect)]
        last = ref.end
    return "".join([*parts, text[last:]])


def placeholders(text: str, dialect: Dialect) -> str:
    """``text`` with each reference turned into a literal or identifier of its own name,
    at the same offsets: what lint parses, knowing no values."""
    refs = variables(text, dialect)
    for ref in refs:
        text = text[: ref.start] + " " + text[ref.start + 1 :]
    return text


@dataclass(frozen=True, slots=True)
class Bindings:
    """The values of a run's variables on one database, and the dialect that quotes them."""

    values: Mapping[str, str]
    dialect: Dialect

    def substitute(self, text: str) -> str:
        return substitute(text, self.dialect, self.values)

    def used(self, text: str) -> str | None:
        """The values ``text`` references, as the JSON kept in the history; None if none."""
        refs = variables(text, self.dialect)
        found = {ref.name: self.values[ref.name] for ref in refs if ref.name in self.values}
        if not found:
            return None
        import json  # lazily: a run without variables never needs it

        return json.dumps(found, sort_keys=True, ensure_ascii=False)
