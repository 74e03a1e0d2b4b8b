"""The INVALID indexes a failed `CREATE INDEX CONCURRENTLY` leaves behind.

A concurrent build that fails (a duplicate for a unique index, a deadlock, a cancel)
does not remove its index: the index stays, marked `indisvalid = false`, unused by
queries but still updated on every write, until someone drops it. Only the indexes
that the migration's own statements name (or, unnamed, PostgreSQL's generated
`<table>_<columns>_idx` on their table) are its leftovers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlmig.splitter import split

_IDENT = r'(?:"(?:[^"]|"")+"|[^\W\d][\w$]*)'
_CREATE_CONCURRENTLY = re.compile(
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"(?:(?!ON\b)(?P<name>{_IDENT})\s+)?ON\s+(?:ONLY\s+)?"
    rf"(?P<table>{_IDENT}(?:\s*\.\s*{_IDENT})?)",
    re.IGNORECASE,
)

# Per (table, index name or NULL): its invalid indexes, as `schema.name` quoted where
# needed; a build still in progress (another runner's) is invalid too, and not a leftover.
INVALID_LEFT = """
    SELECT DISTINCT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
    FROM unnest(%s::text[], %s::text[]) AS s(tab, idx)
    JOIN pg_index x ON x.indrelid = to_regclass(s.tab)
    JOIN pg_class c ON c.oid = x.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT x.indisvalid
      AND (c.relname = s.idx OR (s.idx IS NULL AND c.relname ~ '_idx[0-9]*$'))
      AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = c.oid)
    ORDER BY 1"""


def concurrent_builds(scripts: Iterable[str]) -> tuple[list[str], list[str | None]]:
    """The tables (as written, for to_regclass) and index names (as stored; None when
    PostgreSQL chooses it) of every CREATE INDEX CONCURRENTLY in ``scripts``."""
    tables: list[str] = []
    names: list[str | None] = []
    for script in scripts:
        for st in split(script, "postgres"):
            found = _CREATE_CONCURRENTLY.match(st.text)
            if found:
                tables.append(re.sub(r"\s*\.\s*", ".", found["table"]))
                names.append(_stored(found["name"]) if found["name"] else None)
    return tables, names


def _stored(ident: str) -> str:
    """An identifier as the catalog holds it: quoted ones verbatim, others folded."""
    if ident.startswith('"'):
        return ident[1:-1].replace('""', '"')
    return ident.lower()
