"""A tenant's schema read as if it were the default one, so tenants compare with one
schema.sql: the catalog queries restricted to one schema, and its rows renamed.

The server already leaves a schema on the search_path out of most of what it renders
(constraint and view definitions, regclass and regtype names); what is left is the
schema columns the queries return, function definitions and extended statistics'
names, which always carry the schema, and index definitions, which do unless asked
for the pretty form. The schema's own privileges, and default privileges for the whole
database, are not a tenant's objects.
"""

from __future__ import annotations

from typing import Any

# Objects of the schema the search_path is pinned to.
_HOME_NS = "n.nspname = pg_catalog.current_schema()"


def home_queries(queries: dict[str, str], user_ns: str) -> dict[str, str]:
    """``queries`` restricted to the home schema (``user_ns`` is their "any user schema"
    condition), without what belongs to the whole database: the schemas themselves,
    extensions, and the parts of a union that are not in any schema (event triggers,
    casts)."""
    found = {}
    for kind, sql in queries.items():
        parts = [part for part in sql.split("UNION ALL") if user_ns in part]
        if kind == "schema" or not parts:
            continue
        found[kind] = (
            "UNION ALL".join(parts)
            .replace(user_ns, _HOME_NS)
            .replace("pg_get_indexdef(x.indexrelid)", "pg_get_indexdef(x.indexrelid, 0, true)")
        )
    return found


def rehome(
    kind: str, row: tuple[Any, ...], home: str, quoted: str, public: str
) -> tuple[Any, ...] | None:
    """A row of ``home`` (``quoted`` as the server quotes it) as the same row of
    ``public`` would read; None for a row that is not the schema's objects' but the
    schema's own (its privileges) or the whole database's (a role's default privileges
    outside any schema)."""
    r = list(row)
    if kind == "other":
        if r[0] == "statistics":
            r[1] = f"{public}.{r[1].removeprefix(f'{quoted}.')}"
        return tuple(r)
    if (kind == "privilege" and r[2] == "schema") or r[0] is None:
        return None
    r[0] = public  # every other kind's rows start with the home schema
    if kind == "function":
        head = "PROCEDURE" if r[2] == "p" else "FUNCTION"
        r[4] = r[4].replace(f"{head} {quoted}.", f"{head} {public}.", 1)
    if kind == "table" and r[8] and r[8][0] == home:  # partition of
        r[8] = [public, *r[8][1:]]
    if kind == "sequence" and r[9] and r[9][0] == home:  # owned by
        r[9] = [public, *r[9][1:]]
    return tuple(r)
