"""The privileges of statements a scratch load could not run, worked out from their text.

When the scratch server lacks a role and may not create it, the statements that grant
to it (or set default privileges for it) are left out of the load. Their effect on
that role is then derived here, in file order, with names resolved in the scratch
database after the load, and written under the same keys the catalogs give, so that
`diff` still compares those privileges with the live database's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from sqlmig.schema import Schema
from sqlmig.schema.pgacl import DEFAULT_OBJECTS, default_scope, key, phrase
from sqlmig.schema.pggrants import Grant, Role, tokens
from sqlmig.schema.pgnames import USER_NS, ident, not_extension

_ACLDEFAULT = {"table": "r", "view": "r", "materialized view": "r", "sequence": "s"}
_ACLDEFAULT |= {"function": "f", "procedure": "f", "type": "T", "domain": "T", "schema": "n"}
_DEFAULT_TYPE = {v.upper(): k for k, v in DEFAULT_OBJECTS.items()} | {"ROUTINES": "f"}
_COLUMN_PRIVILEGES = ["SELECT", "INSERT", "UPDATE", "REFERENCES"]
_ALL_IN = {
    "ALL TABLES": "c.relkind IN ('r', 'p', 'v', 'm')",
    "ALL SEQUENCES": "c.relkind = 'S'",
    "ALL FUNCTIONS": "p.prokind = 'f'",
    "ALL PROCEDURES": "p.prokind = 'p'",
    "ALL ROUTINES": "p.prokind IN ('f', 'p')",
}
_NS = USER_NS.replace("%", "%%")  # in queries with parameters
_KNOWN = {"TABLE", "SEQUENCE", "SCHEMA", "TYPE", "DOMAIN", "FUNCTION", "PROCEDURE", "ROUTINE"}
# The compared objects a name can resolve to: the same filters as the catalog readers'.
_RELATIONS = f"""
    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE {{where}} AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND {_NS}
      AND {not_extension("c.oid", "pg_class")}"""
_ROUTINES = f"""
    SELECT pg_get_function_identity_arguments(p.oid), oidvectortypes(p.proargtypes), n.nspname, p.oid
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE {{where}} AND p.prokind IN ('f', 'p') AND {_NS} AND {not_extension("p.oid", "pg_proc")}
    ORDER BY array_position(current_schemas(true), n.nspname::text)"""
_TYPES = f"""
    SELECT t.oid FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE t.oid = to_regtype(%s) AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c'
          AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
      AND {_NS} AND {not_extension("t.oid", "pg_type")}"""
_SCHEMA = f"SELECT n.nspname FROM pg_namespace n WHERE n.oid = to_regnamespace(%s) AND {_NS}"
# Described with the search_path at public, as the catalog readers see them.
_DESCRIBE = {
    "pg_class": """
        SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view'
                    WHEN 'm' THEN 'materialized view' ELSE 'table' END, n.nspname, c.relname, NULL
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = %s""",
    "pg_proc": """
        SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, n.nspname, p.proname,
               pg_get_function_identity_arguments(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = %s""",
    "pg_type": """
        SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, n.nspname, t.typname, NULL
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = %s""",
    "pg_namespace": "SELECT 'schema', %s::text, NULL, NULL",
}
_ALL_PRIVILEGES = """
    SELECT code, array_agg(privilege_type::text) FROM unnest(ARRAY['r', 's', 'f', 'T', 'n', 'L']) code,
    aclexplode(acldefault(code::"char", 10)) GROUP BY code"""


@dataclass(frozen=True, slots=True)
class Withheld:
    grant: Grant
    text: str  # the statement
    line: int
    search_path: str | None  # as the file last SET it before the statement
    missing: frozenset[str]  # roles the scratch server lacks
    unusable: frozenset[str]  # roles it has but the scratch user cannot act for


def loadable(text: str, w: Withheld) -> str | None:
    """The part of the statement for roles the scratch server has, as SQL; None if none."""
    grantees = [r for r in w.grant.grantees.roles if r.keyword or r.name not in w.missing]
    spans = [(w.grant.grantees.start, w.grant.grantees.end, grantees)]
    if w.grant.for_roles is not None:
        targets = [r for r in w.grant.for_roles.roles if not _unavailable_target(r, w)]
        spans.append((w.grant.for_roles.start, w.grant.for_roles.end, targets))
    if any(not kept for _, _, kept in spans):
        return None
    for start, end, kept in sorted(spans, key=lambda s: s[0], reverse=True):
        text = text[:start] + ", ".join(text[r.start : r.end] for r in kept) + text[end:]
    return text


def _unavailable_target(r: Role, w: Withheld) -> bool:
    return not r.keyword and (r.name in w.missing or r.name in w.unusable)


Object = tuple[str, str, str | None, str | None]  # kind, schema, name, identity arguments
Held = dict[tuple[str, str, str], dict[str, bool]]  # (what, on, grantee) -> grant options


class TextGrants:
    """The privileges withheld statements give, applied in file order once the load is done."""

    def __init__(self, conn: psycopg.Connection[Any], user: str) -> None:
        self.conn = conn
        self.user = user
        self.withheld: list[Withheld] = []
        self.held: Held = {}
        self.initial: Held = {}  # built-in default privileges that statements changed
        self.columns: dict[str, set[str]] = {}  # table -> its columns with modelled grants
        # Statements naming objects not found, with the server's error when it has one.
        self.unread: list[tuple[Withheld, psycopg.Error | None]] = []

    def schema(self) -> Schema:
        """The keys the catalogs would have given these privileges."""
        found = []
        for w in self.withheld:  # names are resolved as the file's own search_path has them
            if w.search_path is None:
                self.conn.execute("RESET search_path")
            else:
                self.conn.execute("SELECT set_config('search_path', %s, false)", (w.search_path,))
            found.append(None if w.grant.default else self._resolve(w))
            if found[-1] is None and not w.grant.default:
                self.unread.append((w, self._probe(w)))
        self.conn.execute("SELECT set_config('search_path', 'public', false)")
        self._all = dict(self.conn.execute(_ALL_PRIVILEGES).fetchall())
        for w, oids in zip(self.withheld, found, strict=True):
            if w.grant.default:
                self._apply_default(w)
            elif oids is not None:
                self._apply(w, [self._describe(catalog, oid) for catalog, oid in oids])
        out: Schema = {}
        for (what, on, grantee), grants in self.held.items():
            initial = self.initial.get((what, on, grantee), {})
            for privilege in set(grants) | set(initial):
                now = grants.get(privilege)
                if privilege not in initial or now != initial[privilege]:
                    attrs = {} if now is None else {"grant option": "yes" if now else "no"}
                    out[key(what, privilege, on, grantee, now)] = attrs
        return out

    def _probe(self, w: Withheld) -> psycopg.Error | None:
        """The server's error for the statement, run for PUBLIC (without what only roles
        may have: a grant option) and rolled back: what a load that could run it would
        have failed with (a missing table, say)."""
        try:
            with self.conn.transaction(force_rollback=True):
                self.conn.execute(w.text[: w.grant.grantees.start] + "PUBLIC")
        except psycopg.Error as exc:
            return exc
        return None

    def _apply(self, w: Withheld, objects: list[Object]) -> None:
        roles = [ident(r.name) for r in w.grant.grantees.roles if r.name in w.missing]
        for kind, s, name, detail in objects:
            on = phrase(kind, s, name, detail)
            for privilege, columns in w.grant.privileges:
                if columns and name:
                    grants = _COLUMN_PRIVILEGES if privilege == "ALL" else [privilege]
                    for column in columns:
                        at = phrase("column", s, name, column)
                        self.columns.setdefault(on, set()).add(at)
                        self._change(w.grant, [("privilege", at, r) for r in roles], grants)
                    continue
                allowed = self._all[_ACLDEFAULT[kind]]
                grants = allowed if privilege == "ALL" else [p for p in [privilege] if p in allowed]
                self._change(w.grant, [("privilege", on, r) for r in roles], grants)
                if w.grant.revoke:  # a table's REVOKE revokes it from every column too
                    cols = self.columns.get(on, set())
                    self._change(
                        w.grant, [("privilege", c, r) for c in cols for r in roles], grants
                    )

    def _apply_default(self, w: Withheld) -> None:
        g = w.grant
        objtype = _DEFAULT_TYPE.get(g.on or "", "")
        allowed = self._all.get("s" if objtype == "S" else objtype, [])
        grants = allowed if ("ALL", ()) in g.privileges else [p for p, _ in g.privileges]
        pairs = []
        for target in g.for_roles.roles if g.for_roles else [Role(self.user, False, 0, 0)]:
            everyone = _unavailable_target(target, w)
            roles = [r for r in g.grantees.roles if everyone or r.name in w.missing]
            schemas: list[str | None] = [*g.in_schemas] or [None]
            for schema in schemas:
                scope = default_scope(target.name, objtype, schema)
                pairs += [("default privilege", scope, _grantee(r)) for r in roles]
                if schema is None and everyone:
                    self._built_in(scope, target.name, objtype, allowed)
        self._change(g, pairs, grants)

    def _built_in(self, scope: str, owner: str, objtype: str, allowed: list[str]) -> None:
        """What a role's new objects get before its default privileges are changed."""
        built_in = {("default privilege", scope, ident(owner)): dict.fromkeys(allowed, False)}
        if objtype in ("f", "T"):  # PUBLIC may execute functions and use types
            built_in[("default privilege", scope, "PUBLIC")] = dict.fromkeys(allowed, False)
        for k, grants in built_in.items():
            if k not in self.initial:
                self.initial[k] = dict(grants)
                self.held[k] = {**grants, **self.held.get(k, {})}

    def _change(self, g: Grant, pairs: list[tuple[str, str, str]], grants: list[str]) -> None:
        for pair in pairs:
            held = self.held.setdefault(pair, {})
            for privilege in grants:
                if not g.revoke:
                    held[privilege] = held.get(privilege, False) or g.with_option
                elif g.option_only:
                    if privilege in held:
                        held[privilege] = False
                else:
                    held.pop(privilege, None)

    def _resolve(self, w: Withheld) -> list[tuple[str, Any]] | None:
        """(catalog, oid or schema name) of each object the statement names; None when
        one is not found."""
        on = w.grant.on or ""
        try:
            if on in _ALL_IN:
                routines = "p." in _ALL_IN[on]
                where = f"{_ALL_IN[on]} AND n.nspname = ANY(%s)"
                sql = (_ROUTINES if routines else _RELATIONS).format(where=where)
                rows = self.conn.execute(sql, (w.grant.objects,)).fetchall()
                return [("pg_proc" if routines else "pg_class", r[-1]) for r in rows]
            found = [self._one(on, text) for text in w.grant.objects]
        except psycopg.Error:  # a name the server cannot even parse
            return None
        return None if None in found or on not in _KNOWN else found  # type: ignore[return-value]

    def _one(self, on: str, text: str) -> tuple[str, Any] | None:
        if on == "SCHEMA":
            sql, catalog = _SCHEMA, "pg_namespace"
        elif on in ("TYPE", "DOMAIN"):
            sql, catalog = _TYPES, "pg_type"
        elif on in ("FUNCTION", "PROCEDURE", "ROUTINE"):
            return self._routine(text)
        else:
            sql, catalog = _RELATIONS.format(where="c.oid = to_regclass(%s)"), "pg_class"
        row = self.conn.execute(sql, (text,)).fetchone()
        return (catalog, row[-1]) if row else None

    def _routine(self, text: str) -> tuple[str, Any] | None:
        name, paren, args = text.partition("(")
        parts = [t.name for t in tokens(name) if t.kind in ("word", "quoted")]
        where = "p.proname = %s AND " + (
            "n.nspname = %s" if len(parts) > 1 else "n.nspname = ANY(current_schemas(true))"
        )
        params = (parts[-1], parts[0]) if len(parts) > 1 else (parts[0],)
        rows = self.conn.execute(_ROUTINES.format(where=where), params).fetchall()
        if paren:
            given = " ".join(args.rstrip().removesuffix(")").split()).lower()
            matching = [r for r in rows if given in (r[0].lower(), r[1].lower())]
            if not matching:  # argument types written another way: int for integer
                oid = self.conn.execute("SELECT to_regprocedure(%s)::oid", (text,)).fetchone()
                matching = [r for r in rows if oid and r[-1] == oid[0]]
            rows = matching
        elif len({r[-2] for r in rows}) > 1:
            rows = [r for r in rows if r[-2] == rows[0][-2]]  # the schema found first
        return ("pg_proc", rows[0][-1]) if len(rows) == 1 else None

    def _describe(self, catalog: str, oid: Any) -> Object:
        row = self.conn.execute(_DESCRIBE[catalog], (oid,)).fetchone()
        assert row is not None
        return row[0], row[1], row[2], row[3]


def _grantee(r: Role) -> str:
    return "PUBLIC" if r.keyword else ident(r.name)
