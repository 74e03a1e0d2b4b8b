"""PostgreSQL privileges: read from the ACL columns of the catalogs, compared and dumped
as their differences from the defaults a new object gets.

A NULL ACL means "the defaults" (acldefault: the owner holds every privilege, PUBLIC may
execute functions and use types), and an explicit ACL lists the owner too; both are
exploded with aclexplode and compared with those defaults, so the same privileges read
the same whichever way they were written. The ``public`` schema, which no schema.sql
creates, is compared with what a new database has (pg_init_privs).

Who owns an object is not compared (the role that loads schema.sql owns everything in
the scratch copy), so the owner's entries read as "its owner", not by its name: they
only ever differ from the defaults by what the owner revoked from itself. Who granted a
privilege is not compared either: a dump grants as the owner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmig.schema.pgnames import USER_NS, ident, not_extension, not_internal, qual

OWNER = -1  # grantee id of the object's owner, whoever that is
PUBLIC = 0

# Per object, each (grantee, privilege) whose grant differs from the defaults: `now` is
# NULL when the default was revoked, else whether it may be granted on; `position` is
# where the grantee's entry is in the ACL, for a dump that reloads to the same order.
_DIFFERENCES = """
    SELECT coalesce(a.grantee, d.grantee) AS grantee, coalesce(a.privilege, d.privilege) AS privilege,
           a.grantable AS now, d.grantable AS dflt, a.position
    FROM (SELECT {who} AS grantee, privilege_type AS privilege, bool_or(is_grantable) AS grantable,
                 min(min(n)) OVER (PARTITION BY {who}) AS position
          FROM aclexplode({acl}) WITH ORDINALITY AS e(grantor, grantee, privilege_type, is_grantable, n)
          GROUP BY 1, 2) a
    FULL JOIN (SELECT {who} AS grantee, privilege_type AS privilege, bool_or(is_grantable) AS grantable
               FROM aclexplode({dflt}) GROUP BY 1, 2) d
      ON a.grantee = d.grantee AND a.privilege = d.privilege
    WHERE a.grantable IS DISTINCT FROM d.grantable"""

# What a role's new objects get without its default ACL, which replaces the built-in one;
# one in a schema only adds to that. (An empty '{}' is not an ACL aclexplode reads.)
_BUILT_IN = """CASE WHEN d.defaclnamespace = 0 THEN acldefault(
      CASE d.defaclobjtype WHEN 'S' THEN 's' ELSE d.defaclobjtype END::"char", d.defaclrole)
    ELSE acldefault('c', d.defaclrole) END"""  # a column's: nothing
_OWNED_BY = f"CASE WHEN grantee IN (o.owner, o.init_owner) THEN {OWNER} ELSE grantee::int8 END"

QUERIES: dict[str, str] = {
    # Only objects with an ACL of their own: NULL is the defaults, nothing to read.
    "privilege": f"""
        WITH o AS (
          SELECT n.nspname AS s, c.relname AS name,
                 CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view'
                      WHEN 'm' THEN 'materialized view' ELSE 'table' END AS kind,
                 NULL AS detail, c.relowner AS owner, c.relowner AS init_owner, c.relacl AS acl,
                 acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner) AS dflt
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relacl IS NOT NULL AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND {USER_NS}
            AND {not_extension("c.oid", "pg_class")}
          UNION ALL
          SELECT n.nspname, c.relname, 'column', a.attname, c.relowner, c.relowner, a.attacl,
                 acldefault('c', c.relowner)
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped
            AND c.relkind IN ('r', 'p', 'v', 'm') AND {USER_NS} AND {not_extension("c.oid", "pg_class")}
          UNION ALL
          SELECT n.nspname, NULL, 'schema', NULL, n.nspowner,
                 coalesce((SELECT grantor FROM aclexplode(i.initprivs) LIMIT 1), n.nspowner),
                 n.nspacl, coalesce(i.initprivs, acldefault('n', n.nspowner))
          FROM pg_namespace n LEFT JOIN pg_init_privs i
            ON i.objoid = n.oid AND i.classoid = 'pg_namespace'::regclass AND i.objsubid = 0
          WHERE n.nspacl IS NOT NULL AND {USER_NS} AND {not_extension("n.oid", "pg_namespace")}
          UNION ALL
          SELECT n.nspname, p.proname, CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
                 pg_get_function_identity_arguments(p.oid), p.proowner, p.proowner, p.proacl,
                 acldefault('f', p.proowner)
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE p.proacl IS NOT NULL AND p.prokind IN ('f', 'p') AND {USER_NS}
            AND {not_extension("p.oid", "pg_proc")} AND {not_internal("p.oid", "pg_proc")}
          UNION ALL
          SELECT n.nspname, t.typname, CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, NULL,
                 t.typowner, t.typowner, t.typacl, acldefault('T', t.typowner)
          FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
          WHERE t.typacl IS NOT NULL AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c'
                AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
            AND {USER_NS} AND {not_extension("t.oid", "pg_type")})
        SELECT o.s, o.name, o.kind, o.detail, x.grantee,
               CASE WHEN x.grantee > 0 THEN pg_get_userbyid(x.grantee::oid) END, x.privilege, x.now, x.dflt, x.position
        FROM o, LATERAL ({_DIFFERENCES.format(who=_OWNED_BY, acl="o.acl", dflt="o.dflt")}) x""",
    # A default ACL for a role alone replaces the built-in defaults; one for a role in a
    # schema adds to them.
    "default privilege": f"""
        SELECT n.nspname, NULL, pg_get_userbyid(d.defaclrole), d.defaclobjtype, x.grantee,
               CASE WHEN x.grantee > 0 THEN pg_get_userbyid(x.grantee::oid) END, x.privilege, x.now, x.dflt, x.position
        FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace,
        LATERAL ({_DIFFERENCES.format(who="grantee::int8", acl="d.defaclacl", dflt=_BUILT_IN)}) x
        WHERE d.defaclnamespace = 0 OR ({USER_NS})""",
}

# In the order a GRANT lists them; the server reports them by these names.
ORDER = [
    *("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"),
    *("USAGE", "CREATE", "EXECUTE"),
]
DEFAULT_OBJECTS = {
    "r": "tables",
    "S": "sequences",
    "f": "functions",
    "T": "types",
    "n": "schemas",
    "L": "large objects",
}

Row = tuple[Any, ...]


def phrase(kind: str, schema: str, name: str | None, detail: str | None) -> str:
    """How a difference names the object: 'table accounts', 'column accounts.email'."""
    if kind == "schema":
        return f"schema {ident(schema)}"
    assert name is not None
    if kind == "column":
        return f"column {qual(schema, name)}.{ident(str(detail))}"
    if kind in ("function", "procedure"):
        return f"{kind} {qual(schema, name)}({detail})"
    return f"{kind} {qual(schema, name)}"


def grantee(grantee_id: int, name: str | None) -> str:
    if grantee_id == OWNER:
        return "its owner"
    return "PUBLIC" if grantee_id == PUBLIC else ident(str(name))


def key(what: str, privilege: str, on: str, to: str, now: bool | None) -> str:
    """One privilege's key: held beyond the defaults, or a default taken away."""
    if now is None:
        return f"{what} {privilege} on {on} revoked from {to}"
    return f"{what} {privilege} on {on} to {to}"


def default_scope(role: str, objtype: str, schema: str | None) -> str:
    where = f" in schema {ident(schema)}" if schema else ""
    return f"{DEFAULT_OBJECTS.get(objtype, objtype)} for role {ident(role)}{where}"


def _privilege(r: Row) -> tuple[str, dict[str, object]]:
    s, name, kind, detail, grantee_id, grantee_name, privilege, now = r[:8]
    on = phrase(kind, s, name, detail)
    return key("privilege", privilege, on, grantee(grantee_id, grantee_name), now), _attrs(now)


def _default_privilege(r: Row) -> tuple[str, dict[str, object]]:
    s, _, role, objtype, grantee_id, grantee_name, privilege, now = r[:8]
    on = default_scope(role, objtype, s)
    to = grantee(grantee_id, grantee_name)
    return key("default privilege", privilege, on, to, now), _attrs(now)


def _attrs(now: bool | None) -> dict[str, object]:
    return {} if now is None else {"grant option": now}


READERS: dict[str, Callable[[Row], tuple[str, dict[str, object]]]] = {
    "privilege": _privilege,
    "default privilege": _default_privilege,
}

_GRANT_ON = {
    "view": "TABLE",
    "materialized view": "TABLE",
    "column": "TABLE",
    "type": "TYPE",
}


_KINDS = ["schema", "type", "domain", "function", "procedure", "sequence", "table", "view"]
_KINDS += ["materialized view", "column"]


def statements(
    rows: dict[str, list[Row]], ident_sql: Callable[[str], str], qual_sql: Callable[[str, str], str]
) -> list[str]:
    """GRANT, REVOKE and ALTER DEFAULT PRIVILEGES statements that give a database loaded
    from the dump these privileges, default privileges last (so that they apply to
    nothing the dump creates). One statement per object, grantee and change; objects in
    name order, and on each the revokes first, then the grants in the ACL's order, which
    a reload then reproduces.

    ``ident_sql`` and ``qual_sql`` quote names for SQL. The owner is whoever loads the
    dump: what it revoked from itself is revoked FROM CURRENT_USER.
    """
    grouped: dict[tuple[Any, ...], list[str]] = {}
    for s, name, kind, detail, grantee_id, grantee_name, privilege, now, dflt, at in rows[
        "privilege"
    ]:
        if kind == "schema":
            on = f"SCHEMA {ident_sql(s)}"
        elif kind in ("function", "procedure"):
            on = f"{kind.upper()} {qual_sql(s, name)}({detail})"
        else:
            on = f"{_GRANT_ON.get(kind, kind.upper())} {qual_sql(s, name)}"
        to = _to_sql(grantee_id, grantee_name, ident_sql)
        order: tuple[Any, ...] = (0, s, name or "", _KINDS.index(kind), detail or "")
        order += (-1 if at is None else at, to)
        listed = f"{privilege} ({ident_sql(detail)})" if kind == "column" else privilege
        grouped.setdefault((order, "", on, to, _change(now, dflt)), []).append(listed)
    for s, _, role, objtype, grantee_id, grantee_name, privilege, now, dflt, at in rows[
        "default privilege"
    ]:
        scope = f"FOR ROLE {ident_sql(role)}" + (f" IN SCHEMA {ident_sql(s)}" if s else "")
        objects = DEFAULT_OBJECTS.get(str(objtype), str(objtype)).upper()
        to = _to_sql(grantee_id, grantee_name, ident_sql)
        order = (1, role, s or "", objects, "", -1 if at is None else at, to)
        head = f"ALTER DEFAULT PRIVILEGES {scope} "
        grouped.setdefault((order, head, objects, to, _change(now, dflt)), []).append(privilege)
    return [
        _statement(head, on, to, change, privileges)
        for (_, head, on, to, change), privileges in sorted(grouped.items())
    ]


def _statement(head: str, on: str, to: str, change: str, privileges: list[str]) -> str:
    listed = ", ".join(sorted(privileges, key=_privilege_order))
    if change == "revoke":
        return f"{head}REVOKE {listed} ON {on} FROM {to};\n"
    if change == "revoke option":
        return f"{head}REVOKE GRANT OPTION FOR {listed} ON {on} FROM {to};\n"
    option = " WITH GRANT OPTION" if change == "grant option" else ""
    return f"{head}GRANT {listed} ON {on} TO {to}{option};\n"


def _change(now: bool | None, dflt: bool | None) -> str:
    if now is None:
        return "revoke"
    if now:
        return "grant option"
    return "revoke option" if dflt else "grant"


def _to_sql(grantee_id: int, name: str | None, ident_sql: Callable[[str], str]) -> str:
    if grantee_id == OWNER:
        return "CURRENT_USER"
    return "PUBLIC" if grantee_id == PUBLIC else ident_sql(str(name))


def _privilege_order(privilege: str) -> tuple[int, str]:
    word = privilege.split(" (", maxsplit=1)[0]
    return (ORDER.index(word) if word in ORDER else len(ORDER), privilege)
