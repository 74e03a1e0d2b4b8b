"""What a database holds before sqlmig first migrates it: its user's own objects.

Asked only when sqlmig's tables do not exist yet, so it costs nothing on a database
sqlmig already migrates. On PostgreSQL only the schema of sqlmig's tables and the
current schema (where the migrations' unqualified names land) count, so that the schemas
other roles own (Supabase's `auth`, `storage`) do not; objects an extension made do not
count either, nor sequences that belong to a table's column (the table does).
"""

from __future__ import annotations

from sqlmig.engines.base import Driver

_SQLITE = """
    SELECT type, name FROM sqlite_master
    WHERE type IN ('table', 'view', 'trigger') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
    ORDER BY type, name"""

_POSTGRES = """
    WITH spaces AS (
        SELECT oid, nspname FROM pg_namespace WHERE nspname IN (%s, current_schema())
    ),
    found AS (
        SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                   WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'table' END,
               n.nspname, c.relname, 'pg_class'::regclass, c.oid
        FROM pg_class c JOIN spaces n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND NOT (n.nspname = %s AND c.relname = ANY (%s))
          -- partitions and owned sequences go with their table
          AND NOT c.relispartition
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
        UNION ALL
        SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
               n.nspname, p.proname, 'pg_proc'::regclass, p.oid
        FROM pg_proc p JOIN spaces n ON n.oid = p.pronamespace
        UNION ALL
        SELECT 'type', n.nspname, t.typname, 'pg_type'::regclass, t.oid
        FROM pg_type t JOIN spaces n ON n.oid = t.typnamespace
        WHERE t.typtype IN ('e', 'd', 'r')
           OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
    )
    SELECT kind, quote_ident(nspname) || '.' || quote_ident(name)
    FROM found AS f(kind, nspname, name, classid, objid)
    WHERE NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = f.classid
                      AND d.objid = f.objid AND d.deptype = 'e')
    ORDER BY 1, 2"""


def user_objects(driver: Driver, own_tables: tuple[str, ...]) -> list[str]:
    """The objects of the database's user, as ``kind name``, sqlmig's own tables left out."""
    if driver.dialect == "sqlite":
        if not driver.exists():
            return []
        rows = driver.query(_SQLITE)
        return [f"{kind} {name}" for kind, name in rows if name not in own_tables]
    home = driver.home or ""
    rows = driver.query(_POSTGRES, (home, home, list(own_tables)))
    return [f"{kind} {name}" for kind, name in rows]
