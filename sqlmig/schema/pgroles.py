"""Roles a scratch load needs and the scratch server lacks: made NOLOGIN for the load
when the scratch user may create roles, dropped once the scratch database is gone.

Roles are server-wide, so concurrent loads on one server share what they make. Each
made role carries a comment that marks it as sqlmig's; every load that relies on marked
roles holds a shared advisory lock for as long as its scratch database exists, and the
one that ends while no other holds it drops every marked role. So no load loses a role
it uses, a role the server had before is never dropped, and a role left behind by a
killed process is dropped by the next load that ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from sqlmig.schema.pgnames import ident

MARK = "made by sqlmig for a scratch load; dropped after it"
_LOCK = 0x73716C6D69677221  # any fixed key: every sqlmig shares it

_EXISTING = """
    SELECT r.rolname, d.description IS NOT DISTINCT FROM %s,
           pg_has_role(current_user, r.oid, 'USAGE')
    FROM pg_roles r LEFT JOIN pg_shdescription d
      ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass
    WHERE r.rolname = ANY(%s)"""
_MARKED = """
    SELECT r.rolname FROM pg_roles r JOIN pg_shdescription d
      ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass
    WHERE d.description = %s ORDER BY 1"""


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class ScratchRoles:
    """The roles of one scratch database's server, through its admin connection."""

    def __init__(self, admin: psycopg.Connection[Any]) -> None:
        self.admin = admin
        row = admin.execute(
            "SELECT current_user, rolsuper, rolsuper OR rolcreaterole FROM pg_roles "
            "WHERE rolname = current_user"
        ).fetchone()
        assert row is not None
        self.user: str = row[0]
        self.superuser: bool = row[1]
        self.may_create: bool = row[2]
        self.made: list[str] = []
        self.notes: list[str] = []
        self.saw_marked = False  # whether a load relied on a role another load made
        self._locked = False

    def provide(self, names: Iterable[str]) -> tuple[set[str], set[str]]:
        """Make what ``names`` lacks where allowed; return the roles still missing and
        those that exist but the scratch user cannot act for (ALTER DEFAULT PRIVILEGES
        FOR ROLE needs that)."""
        wanted = sorted(set(names))
        if not wanted:
            return set(), set()
        found = self._existing(wanted)
        if any(marked for marked, _ in found.values()) or (
            self.may_create and len(found) < len(wanted)
        ):
            self._share()
            found = self._existing(wanted)  # a load ending meanwhile may have dropped some
        self.saw_marked |= any(marked for marked, _ in found.values())
        missing = [name for name in wanted if name not in found]
        if self.may_create:
            for name in missing:
                self._make(name)
            missing = []
        return set(missing), {name for name, (_, usable) in found.items() if not usable}

    def _existing(self, names: list[str]) -> dict[str, tuple[bool, bool]]:
        rows = self.admin.execute(_EXISTING, (MARK, names)).fetchall()
        return {name: (marked, usable) for name, marked, usable in rows}

    def _share(self) -> None:
        if not self._locked:
            self.admin.execute("SELECT pg_advisory_lock_shared(%s)", (_LOCK,))
            self._locked = True

    def _make(self, name: str) -> None:
        try:
            with self.admin.transaction():  # marked as it is made, or not made at all
                self.admin.execute(f"CREATE ROLE {quote(name)} NOLOGIN")
                self.admin.execute(f"COMMENT ON ROLE {quote(name)} IS '{MARK}'")
                if not self.superuser:  # to act for it: DEFAULT PRIVILEGES FOR ROLE, OWNER TO
                    self.admin.execute(f"GRANT {quote(name)} TO {quote(self.user)}")
        except psycopg.errors.DuplicateObject:
            return  # another load made it just now, under the same lock
        self.made.append(name)

    def release(self) -> None:
        """After the scratch database is dropped: if no other load relies on marked roles
        now, drop them all."""
        if not self._locked:
            return
        try:
            self.admin.execute("SELECT pg_advisory_unlock_shared(%s)", (_LOCK,))
            self._locked = False
            if self.may_create and self._last():
                self._drop_marked()
        except psycopg.Error as exc:  # the connection is gone, and its locks with it
            self.notes.append(
                f"could not drop the roles made for the scratch load ({exc}): they are marked "
                f"with the comment '{MARK}', and the next scratch load on that server drops them"
            )

    def _last(self) -> bool:
        """Whether no other load relies on marked roles now; if so, keep it that way."""
        row = self.admin.execute("SELECT pg_try_advisory_lock(%s)", (_LOCK,)).fetchone()
        return bool(row and row[0])

    def _drop_marked(self) -> None:
        try:
            for (name,) in self.admin.execute(_MARKED, (MARK,)).fetchall():
                try:
                    self.admin.execute(f"DROP ROLE {quote(name)}")
                except psycopg.Error as exc:
                    self.notes.append(
                        f"could not drop role {name}, made for a scratch load "
                        f"({exc.diag.message_primary}): drop it with DROP ROLE {ident(name)}"
                    )
        finally:
            self.admin.execute("SELECT pg_advisory_unlock(%s)", (_LOCK,))
