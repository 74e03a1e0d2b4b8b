"""PostgreSQL's schema from pg_catalog, in one query per object kind.

Definitions are the server's own renderings (format_type, pg_get_expr,
pg_get_constraintdef, pg_get_indexdef, pg_get_viewdef, pg_get_functiondef,
pg_get_triggerdef), so two databases built from differently formatted SQL compare
equal, and anything the server would print differently is a real difference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from sqlmig.schema import Schema, pgacl, pgbatches
from sqlmig.schema.home import home_queries, rehome
from sqlmig.schema.pgnames import (
    SEARCH_PATH,
    USER_NS,
    described,
    ident,
    not_extension,
    not_internal,
    qual,
)

QUERIES: dict[str, str] = {
    "schema": f"""
        SELECT n.nspname, NULL, {described("n.oid", "pg_namespace")}
        FROM pg_namespace n WHERE {USER_NS} AND n.nspname <> 'public'
          AND {not_extension("n.oid", "pg_namespace")}""",
    "extension": """
        SELECT e.extname, n.nspname, e.oid, e.extversion FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname <> 'plpgsql'""",
    "table": f"""
        SELECT n.nspname, c.relname, c.relkind, c.relpersistence, c.relrowsecurity,
               c.relforcerowsecurity, pg_get_partkeydef(c.oid), pg_get_expr(c.relpartbound, c.oid),
               (SELECT ARRAY[pn.nspname, p.relname] FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid AND c.relispartition),
               {described("c.oid", "pg_class")}, c.oid,
               (SELECT array_agg(i.inhparent::regclass::text ORDER BY i.inhseqno) FROM pg_inherits i
                WHERE i.inhrelid = c.oid AND NOT c.relispartition),
               (SELECT array_agg(i.inhparent ORDER BY i.inhseqno) FROM pg_inherits i
                WHERE i.inhrelid = c.oid AND NOT c.relispartition),
               (SELECT array_agg(o ORDER BY o) FROM unnest(c.reloptions) o),
               CASE c.relreplident WHEN 'n' THEN 'NOTHING' WHEN 'f' THEN 'FULL'
                 WHEN 'i' THEN 'USING INDEX ' || (SELECT quote_ident(i.relname) FROM pg_index x
                   JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid AND x.indisreplident)
               END
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND {USER_NS} AND {not_extension("c.oid", "pg_class")}""",
    "column": f"""
        SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               -- Only a generated column's expression names columns: printed without its
               -- table, a default spares opening every table (a third of this query's time).
               pg_get_expr(ad.adbin, CASE WHEN a.attgenerated <> '' THEN ad.adrelid ELSE 0 END),
               a.attidentity, a.attgenerated,
               CASE WHEN a.attcollation <> t.typcollation THEN a.attcollation::regcollation::text END,
               {described("c.oid", "pg_class", "a.attnum")},
               row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),  -- dropped columns leave gaps
               c.relkind, a.attislocal, a.attnum,
               (SELECT 'SEQUENCE NAME ' || q.seqrelid::regclass::text || ' START WITH ' || q.seqstart
                       || ' INCREMENT BY ' || q.seqincrement || ' MINVALUE ' || q.seqmin
                       || ' MAXVALUE ' || q.seqmax || ' CACHE ' || q.seqcache
                       || CASE WHEN q.seqcycle THEN ' CYCLE' ELSE '' END
                FROM pg_depend d JOIN pg_sequence q ON q.seqrelid = d.objid
                -- refclassid too, or pg_depend has no index for it: pg_sequence was read
                -- whole for every column (3.6 s for 1,000 tables with identity columns)
                WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                  AND d.refobjid = c.oid AND d.refobjsubid = a.attnum AND d.deptype = 'i')
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
          AND {USER_NS} AND {not_extension("c.oid", "pg_class")}""",
    "constraint": f"""
        SELECT n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid, true),
               {described("k.oid", "pg_constraint")}, k.contype, k.conislocal, k.oid,
               -- storage options of a key's own index, which pg_get_constraintdef leaves out
               (SELECT array_agg(o ORDER BY o) FROM pg_class i, unnest(i.reloptions) o
                WHERE i.oid = k.conindid AND k.contype IN ('p', 'u', 'x')),
               (SELECT i.relname FROM pg_class i WHERE i.oid = k.conindid AND k.contype IN ('p', 'u', 'x'))
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE k.conparentid = 0 AND {USER_NS}""",
    "index": f"""
        SELECT n.nspname, t.relname, i.relname, pg_get_indexdef(x.indexrelid),
               {described("i.oid", "pg_class")}, x.indisvalid
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = i.relnamespace
        WHERE {USER_NS}
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid
                          AND k.conrelid = x.indrelid AND k.contype IN ('p', 'u', 'x'))
          AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = x.indexrelid)
          AND {not_extension("i.oid", "pg_class")}""",
    "view": f"""
        SELECT n.nspname, c.relname, c.relkind, pg_get_viewdef(c.oid, true),
               {described("c.oid", "pg_class")}, (SELECT array_agg(o ORDER BY o) FROM unnest(c.reloptions) o),
               c.oid
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND {USER_NS} AND {not_extension("c.oid", "pg_class")}""",
    "sequence": f"""
        SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
               s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
               (SELECT ARRAY[tn.nspname, t.relname, a.attname] FROM pg_depend d
                JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
                JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a'
                  AND d.refclassid = 'pg_class'::regclass),
               c.oid, {described("c.oid", "pg_class")}, c.relpersistence = 'u'
        FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_NS} AND {not_extension("c.oid", "pg_class")}
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'i')""",
    "function": f"""
        SELECT n.nspname, p.proname, p.prokind, pg_get_function_identity_arguments(p.oid),
               pg_get_functiondef(p.oid), {described("p.oid", "pg_proc")}, p.oid
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prokind IN ('f', 'p') AND {USER_NS} AND {not_extension("p.oid", "pg_proc")}
          AND {not_internal("p.oid", "pg_proc")}""",
    "trigger": f"""
        SELECT n.nspname, c.relname, g.tgname, pg_get_triggerdef(g.oid, true), g.tgenabled,
               {described("g.oid", "pg_trigger")}
        FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT g.tgisinternal AND g.tgparentid = 0 AND {USER_NS}""",
    "type": f"""
        SELECT n.nspname, t.typname, t.typtype,
               (SELECT array_agg(quote_literal(e.enumlabel) ORDER BY e.enumsortorder)
                FROM pg_enum e WHERE e.enumtypid = t.oid),
               CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod)
                   || CASE WHEN t.typcollation <> (SELECT typcollation FROM pg_type WHERE oid = t.typbasetype)
                           THEN ' COLLATE ' || t.typcollation::regcollation::text ELSE '' END END,
               t.typnotnull, pg_get_expr(t.typdefaultbin, 0),  -- not typdefault: text from creation time
               (SELECT array_agg('CONSTRAINT ' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid, true)
                                 ORDER BY k.conname)
                FROM pg_constraint k WHERE k.contypid = t.oid),
               (SELECT array_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                                 || CASE WHEN a.attcollation <> at.typcollation
                                         THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END
                                 ORDER BY a.attnum)
                FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped),
               {described("t.oid", "pg_type")}, t.oid
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE (t.typtype IN ('e', 'd') OR (t.typtype = 'c'
               AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
          AND {USER_NS} AND {not_extension("t.oid", "pg_type")}""",
    # Kinds compared by existence only, and left out of a dump (which says so).
    "other": f"""
        SELECT 'aggregate', p.oid::regprocedure::text FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prokind = 'a' AND {USER_NS} AND {not_extension("p.oid", "pg_proc")}
        UNION ALL
        SELECT 'range type', t.oid::regtype::text FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype = 'r' AND {USER_NS} AND {not_extension("t.oid", "pg_type")}
        UNION ALL
        SELECT 'collation', c.oid::regcollation::text FROM pg_collation c
        JOIN pg_namespace n ON n.oid = c.collnamespace
        WHERE {USER_NS} AND {not_extension("c.oid", "pg_collation")}
        UNION ALL
        SELECT 'operator', o.oid::regoperator::text FROM pg_operator o
        JOIN pg_namespace n ON n.oid = o.oprnamespace
        WHERE {USER_NS} AND {not_extension("o.oid", "pg_operator")}
        UNION ALL
        SELECT 'rule', quote_ident(r.rulename) || ' on ' || r.ev_class::regclass::text
        FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE r.rulename <> '_RETURN' AND {USER_NS}
        UNION ALL
        SELECT 'statistics', quote_ident(n.nspname) || '.' || quote_ident(x.stxname)
        FROM pg_statistic_ext x JOIN pg_namespace n ON n.oid = x.stxnamespace WHERE {USER_NS}
        UNION ALL
        SELECT 'event trigger', quote_ident(e.evtname) FROM pg_event_trigger e
        WHERE {not_extension("e.oid", "pg_event_trigger")}
        UNION ALL
        SELECT 'foreign table', c.oid::regclass::text FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'f' AND {USER_NS} AND {not_extension("c.oid", "pg_class")}
        UNION ALL
        SELECT 'cast', format('(%s AS %s)', c.castsource::regtype, c.casttarget::regtype)
        FROM pg_cast c WHERE c.oid >= 16384 AND {not_extension("c.oid", "pg_cast")}
          AND {not_internal("c.oid", "pg_cast")}""",
    "policy": f"""
        SELECT n.nspname, c.relname, p.polname, p.polpermissive, p.polcmd,
               (SELECT array_agg(role ORDER BY role) FROM (
                  SELECT CASE WHEN r = 0 THEN 'public' ELSE quote_ident(pg_get_userbyid(r)) END AS role
                  FROM unnest(p.polroles) r) roles),
               pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid),
               {described("p.oid", "pg_policy")}
        FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_NS}""",
    **pgacl.QUERIES,
}

_COMMANDS = {"r": "select", "a": "insert", "w": "update", "d": "delete", "*": "all"}


Rows = dict[str, list[tuple[Any, ...]]]
Own = set[tuple[str, str | None]]  # (schema, table), or (schema, None) for a whole schema
# Kinds whose rows start (schema, table) or, for schemas, (schema, None): sqlmig's own
# tables, and a schema made only for them, are filtered from these and nothing else.
_OWNED = {"schema", "table", "column", "constraint", "index", "trigger", "policy", *pgacl.QUERIES}


# A tenant's diff reads one schema, its home (schema/home.py).
HOME_QUERIES = home_queries(QUERIES, USER_NS)


# The largest, one at a time, each sent while the one before is turned into the model's
# entries; then the rest at once.
_ALONE = ("column", "constraint", "index", "table")


def read_catalogs(conn: psycopg.Connection[Any], own: Own, home: str | None = None) -> Rows:
    """Every kind's catalog rows, without sqlmig's ``own`` tables and what hangs off them.
    With ``home``, only that schema's, named as if it were public."""
    return dict(catalog_rows(conn, own, home))


def catalog_rows(
    conn: psycopg.Connection[Any], own: Own, home: str | None = None
) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """read_catalogs' rows kind by kind, the next kind's query already on the server while
    the caller works on these (pgbatches)."""
    queries = QUERIES if home is None else HOME_QUERIES
    batches = [[(k, queries[k])] for k in _ALONE if k in queries]
    batches.append([(k, sql) for k, sql in queries.items() if k not in _ALONE])
    with conn.transaction(), pgbatches.pipeline(conn):
        # The server leaves out the schema of names visible on the search_path: pin it, so
        # that a schema reads the same whoever connects, and a dump loads under the path
        # it sets.
        conn.execute(
            "SELECT pg_catalog.set_config('search_path', pg_catalog.quote_ident(%s), true)",
            (home or SEARCH_PATH,),
        )
        if home is not None:
            quoted = conn.execute("SELECT pg_catalog.quote_ident(%s)", (home,)).fetchone()[0]  # type: ignore[index]
        for kind, found in pgbatches.results(conn, batches):
            rows = [r for r in found if kind not in _OWNED or (r[0], r[1]) not in own]
            if home is not None:
                moved = (rehome(kind, r, home, quoted, SEARCH_PATH) for r in rows)
                rows = [r for r in moved if r is not None]
            yield kind, rows


def introspect(conn: psycopg.Connection[Any], own: Own, home: str | None = None) -> Schema:
    """The schema of the database ``conn`` is connected to, without sqlmig's ``own`` tables;
    with ``home``, of that schema alone, as if it were public (a tenant's)."""
    schema: Schema = {}
    for kind, rows in catalog_rows(conn, own, home):
        reader = _READERS[kind]
        for row in rows:
            key, attrs = reader(row)
            # Most values are text already: 60,000 calls for 1,000 tables cost more than this.
            schema[key] = {k: v if type(v) is str else _text(v) for k, v in attrs.items()}
    return schema


def _text(value: object) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


def _table(r: tuple[Any, ...]) -> tuple[str, dict[str, object]]:
    s, name, kind, persistence, rls, force, partkey, bound, parent, comment, _, inherits, _ = r[:13]
    attrs: dict[str, object] = {
        "kind": "partitioned table" if kind == "p" else "table",
        "unlogged": persistence == "u",
        "row level security": "forced" if force else "enabled" if rls else "disabled",
        "comment": comment,
    }
    if partkey:
        attrs["partition key"] = partkey
    if parent:
        attrs["partition of"] = f"{qual(*parent)} {bound or ''}".strip()
    if inherits:
        attrs["inherits"] = inherits
    if r[13]:
        attrs["options"] = r[13]
    if r[14]:
        attrs["replica identity"] = r[14]
    return f"table {qual(s, name)}", attrs


def _column(r: tuple[Any, ...]) -> tuple[str, dict[str, object]]:
    (
        s,
        table,
        name,
        ctype,
        notnull,
        default,
        identity,
        generated,
        collation,
        comment,
        position,
    ) = r[:11]
    attrs: dict[str, object] = {
        "type": ctype,
        "nullable": not notnull,
        "default": None if generated else default,
        "identity": {"a": "always", "d": "by default"}.get(identity, "no"),
        "identity sequence": r[14],
        "generated": f"always as ({default}) stored" if generated == "s" else "no",
        "collation": collation,
        "comment": comment,
        "position": position,
    }
    return f"column {qual(s, table)}.{ident(name)}", attrs


READER = Callable[[tuple[Any, ...]], tuple[str, dict[str, object]]]
_READERS: dict[str, READER] = {
    "schema": lambda r: (f"schema {ident(r[0])}", {"comment": r[2]}),
    "extension": lambda r: (f"extension {ident(r[0])}", {"schema": r[1], "version": r[3]}),
    "table": _table,
    "column": _column,
    "constraint": lambda r: (
        f"constraint {qual(r[0], r[1])}.{ident(r[2])}",
        {"definition": r[3], "comment": r[4], "index options": r[8]},
    ),
    "index": lambda r: (
        f"index {qual(r[0], r[2])}",
        # A failed CREATE INDEX CONCURRENTLY leaves an invalid index behind.
        {"definition": r[3], "comment": r[4], "valid": r[5]},
    ),
    "view": lambda r: (
        f"{'materialized view' if r[2] == 'm' else 'view'} {qual(r[0], r[1])}",
        {"definition": r[3], "comment": r[4], "options": r[5]},
    ),
    "sequence": lambda r: (
        f"sequence {qual(r[0], r[1])}",
        {
            "type": r[2],
            "start": r[3],
            "increment": r[4],
            "min": r[5],
            "max": r[6],
            "cache": r[7],
            "cycle": r[8],
            "owned by": f"{qual(r[9][0], r[9][1])}.{ident(r[9][2])}" if r[9] else None,
            "comment": r[11],
            "unlogged": r[12],
        },
    ),
    "function": lambda r: (
        f"{'procedure' if r[2] == 'p' else 'function'} {qual(r[0], r[1])}({r[3]})",
        {"definition": r[4], "comment": r[5]},
    ),
    "trigger": lambda r: (
        f"trigger {qual(r[0], r[1])}.{ident(r[2])}",
        {
            "definition": r[3],
            "enabled": {"O": "yes", "D": "no", "R": "replica", "A": "always"}[r[4]],
            "comment": r[5],
        },
    ),
    "type": lambda r: (
        f"type {qual(r[0], r[1])}",
        {
            "kind": {"e": "enum", "d": "domain", "c": "composite"}[r[2]],
            "labels": r[3],
            "base type": r[4],
            "not null": r[5] if r[2] == "d" else None,
            "default": r[6],
            "constraints": r[7],
            "attributes": r[8],
            "comment": r[9],
        },
    ),
    "other": lambda r: (f"{r[0]} {r[1]}", {}),
    "policy": lambda r: (
        f"policy {qual(r[0], r[1])}.{ident(r[2])}",
        {
            "permissive": r[3],
            "command": _COMMANDS.get(r[4], r[4]),
            "roles": r[5],
            "using": r[6],
            "with check": r[7],
            "comment": r[8],
        },
    ),
    **pgacl.READERS,
}
