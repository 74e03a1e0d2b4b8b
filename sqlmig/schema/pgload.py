"""A file about to be loaded into a PostgreSQL scratch database, made loadable there.

The roles it names must exist on the scratch server: the missing ones are made for the
load where the scratch user may create roles (pgroles). Where it may not, the privilege
statements that name them are left out of the load, each keeping the part for roles the
server has, and what they grant is compared as text (pgtextgrants); role memberships
naming them are left out and not compared. Either way the output says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlmig.models import SqlFile
from sqlmig.schema import pggrants
from sqlmig.schema.pgroles import ScratchRoles
from sqlmig.schema.pgtextgrants import Withheld, loadable
from sqlmig.splitter import Statement, split

_SEARCH_PATH = re.compile(
    r"SET\s+(?:SESSION\s+|LOCAL\s+)?search_path\s*(?:=|TO)\s*(.*)", re.IGNORECASE | re.DOTALL
)
_RESET = re.compile(r"RESET\s+search_path", re.IGNORECASE)


@dataclass
class Prepared:
    file: SqlFile  # what to run: the file, with the withheld parts blanked
    withheld: list[Withheld] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)  # roles still missing after the load's own
    made: list[str] = field(default_factory=list)  # a note on the roles made for the load
    notes: list[str] = field(default_factory=list)  # on what was compared as text, or not at all


def roles_named(texts: list[str]) -> set[str]:
    return {
        name
        for text in texts
        for st in split(text, "postgres")
        if (found := pggrants.read(st.text)) is not None
        for name in pggrants.roles_of(found)
    }


def made_note(roles: ScratchRoles, before: int) -> list[str]:
    made = roles.made[before:]
    if not made:
        return []
    return [
        f"made role(s) {', '.join(made)} (NOLOGIN) on the scratch server for the load: it "
        "names them and the server has none; they are dropped afterwards"
    ]


def prepare(file: SqlFile, split_file: list[Statement], roles: ScratchRoles) -> Prepared:
    """``file`` (whose statements are ``split_file``) as it can be loaded by ``roles``'
    user, with notes on what that took."""
    statements = [(st, pggrants.read(st.text)) for st in split_file]
    before = len(roles.made)
    missing, cannot_act = roles.provide(
        name for _, found in statements if found is not None for name in pggrants.roles_of(found)
    )
    made = made_note(roles, before)
    if not missing and not cannot_act:
        return Prepared(file, made=made)
    out = Prepared(file, missing=missing, made=made)
    paths: list[str | None] = []  # the search_path each statement runs under
    path = None
    for st, _ in statements:
        paths.append(path)
        path = None if _RESET.match(st.text) else _set_path(st.text, path)
    text, modelled, dropped = file.text, [], []
    for (st, found), path in reversed(list(zip(statements, paths, strict=True))):
        # From the end, so that the offsets of the statements before stay right.
        if isinstance(found, pggrants.Grant) and _withheld(found, missing, cannot_act):
            w = Withheld(found, st.text, st.line, path, frozenset(missing), frozenset(cannot_act))
            if found.on is None:
                dropped.append(st.line)
            else:
                modelled.append(st.line)
                out.withheld.insert(0, w)
            text = _replace(text, st, loadable(st.text, w))
        elif isinstance(found, pggrants.Other) and found.privileges and set(found.roles) & missing:
            dropped.append(st.line)
            text = _replace(text, st, None)
    out.notes = _notes(
        file.path,
        roles.user,
        missing=missing,
        cannot_act=cannot_act,
        modelled=sorted(modelled),
        dropped=sorted(dropped),
    )
    out.file = replace(file, text=text)
    return out


def _withheld(g: pggrants.Grant, missing: set[str], cannot_act: set[str]) -> bool:
    grantees = {r.name for r in g.grantees.roles if not r.keyword}
    targets = {r.name for r in g.for_roles.roles if not r.keyword} if g.for_roles else set()
    return bool(grantees & missing or targets & (missing | cannot_act))


def _set_path(text: str, path: str | None) -> str | None:
    m = _SEARCH_PATH.match(text)
    if m is None:
        return path
    value = m.group(1).strip()
    return None if value.upper() == "DEFAULT" else value


def _replace(text: str, st: Statement, by: str | None) -> str:
    """``text`` with statement ``st`` replaced by ``by`` (blank if None), on as many lines."""
    end = st.offset + len(st.text)
    by = by or ""
    by += "\n" * (st.text.count("\n") - by.count("\n"))
    return text[: st.offset] + by + text[end:]


def _notes(
    path: Path,
    user: str,
    *,
    missing: set[str],
    cannot_act: set[str],
    modelled: list[int],
    dropped: list[int],
) -> list[str]:
    why = []
    if missing:
        why.append(
            f"the scratch server has no role {', '.join(sorted(missing))} and {user} may not "
            "create roles there"
        )
    if cannot_act:
        why.append(f"{user} may not set default privileges for {', '.join(sorted(cannot_act))}")
    notes = []
    if modelled:
        notes.append(
            f"{path.name} {lines_of(modelled)}: compared as text, not loaded, because "
            + ", and ".join(why)
        )
    if dropped:
        notes.append(
            f"{path.name} {lines_of(dropped)}: neither loaded nor compared: role memberships, or "
            "privileges on kinds sqlmig does not compare, for roles the scratch server lacks"
        )
    return notes


def lines_of(lines: list[int], shown: int = 8) -> str:
    listed = ", ".join(str(n) for n in lines[:shown])
    more = f" and {len(lines) - shown} more" if len(lines) > shown else ""
    return f"line{'s' if len(lines) > 1 else ''} {listed}{more}"
