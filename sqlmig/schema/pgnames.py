"""What the PostgreSQL catalog readers share: which objects are the user's, and how a
name is written in a readable difference."""

from __future__ import annotations

import functools
import re

# Objects of the user's schemas, not of the system or of an extension.
USER_NS = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
    "AND n.nspname NOT LIKE 'pg\\_temp%'"
)


def not_extension(oid: str, catalog: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass "
        f"AND d.objid = {oid} AND d.deptype = 'e')"
    )


def not_internal(oid: str, catalog: str) -> str:
    """Not made implicitly with another object (a range type's constructors and casts)."""
    return (
        f"NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass "
        f"AND d.objid = {oid} AND d.deptype = 'i')"
    )


def described(oid: str, catalog: str, subid: str = "0") -> str:
    """An object's comment: what obj_description and col_description return, as a
    subquery, which costs a fraction of a call to either on every row."""
    return (
        f"(SELECT dsc.description FROM pg_description dsc WHERE dsc.objoid = {oid} "
        f"AND dsc.classoid = '{catalog}'::regclass AND dsc.objsubid = {subid})"
    )


SEARCH_PATH = "public"  # names in it are written unqualified, others with their schema
_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")


@functools.lru_cache(maxsize=4096)  # a schema or table name recurs on every column
def ident(name: str) -> str:
    return name if _PLAIN.match(name) else '"' + name.replace('"', '""') + '"'


def qual(schema: str, name: str) -> str:
    """Readable name: the schema is left out for public, as in a search_path."""
    return ident(name) if schema == "public" else f"{ident(schema)}.{ident(name)}"
