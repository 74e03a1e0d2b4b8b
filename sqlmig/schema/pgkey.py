"""What a PostgreSQL scratch load of schema.sql depends on besides the file: the facts a
cached model is keyed by, read in one query from the server that makes the scratch
database, as the role that makes it.

The session settings that decide how SQL is read and how the catalogs print it
(search_path, DateStyle, TimeZone, ...) are read from that connection and then given
to every connection to the scratch database at its start: a new database has no
per-database settings of its own, so without that they could differ from what was read
(an `ALTER DATABASE ... SET TimeZone` on the configured database), and the key would
not say what the load saw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmig.schema.pgroles import MARK

# Settings a user may change that alter what loading a file builds, or how the catalogs
# render it: names and literals as parsed, defaults for what the file leaves unsaid.
SESSION = [
    *("search_path", "DateStyle", "IntervalStyle", "TimeZone", "timezone_abbreviations"),
    *("extra_float_digits", "bytea_output", "lc_monetary", "lc_numeric", "lc_time"),
    *("standard_conforming_strings", "backslash_quote", "array_nulls", "transform_null_equals"),
    *("quote_all_identifiers", "check_function_bodies", "default_tablespace", "xmlbinary"),
    *("default_table_access_method", "default_toast_compression", "default_text_search_config"),
    *("xmloption", "plpgsql.variable_conflict", "plpgsql.extra_errors", "plpgsql.extra_warnings"),
    *("plpgsql.check_asserts", "plpgsql.print_strict_params"),
]
# What a new database copies from template0 and nothing later changes.
_TEMPLATE = [
    *("encoding", "datcollate", "datctype", "datlocprovider", "daticulocale", "datlocale"),
    *("daticurules", "datcollversion"),
]

FACTS = """
    SELECT json_build_object(
      'version', current_setting('server_version_num'),
      'user', current_user, 'superuser', r.rolsuper, 'createrole', r.rolcreaterole,
      'template0', (SELECT json_object_agg(k, v ORDER BY k)
                    FROM pg_database d, json_each(row_to_json(d)) e(k, v)
                    WHERE d.datname = 'template0' AND k = ANY(%s)),
      'extensions', (SELECT json_agg(json_build_array(x.name, x.default_version) ORDER BY x.name)
                     FROM pg_available_extensions x),
      'session', (SELECT json_object_agg(n, current_setting(n, true) ORDER BY n)
                  FROM unnest(%s::text[]) n),
      -- every role but those loads make and drop again, and whether the user may act for it
      'roles', (SELECT json_agg(json_build_array(o.rolname,
                                pg_has_role(current_user, o.oid, 'USAGE')) ORDER BY o.rolname)
                FROM pg_roles o WHERE NOT EXISTS (
                  SELECT 1 FROM pg_shdescription s WHERE s.objoid = o.oid
                  AND s.classoid = 'pg_authid'::regclass AND s.description = %s)))
    FROM pg_roles r WHERE r.rolname = current_user"""

# Every version of every extension the server can install, and how: what a file that
# creates or updates extensions may load. Reading it costs a read of every control file.
VERSIONS = """
    SELECT json_agg(json_build_array(x.name, x.version, x.superuser, x.trusted, x.relocatable,
                                     x.schema, x.requires) ORDER BY x.name, x.version)
    FROM pg_available_extension_versions x"""

Query = Callable[[str, tuple[object, ...]], list[tuple[Any, ...]]]


def facts(query: Query) -> dict[str, Any]:
    """The facts, through ``query`` (an engine's, or a connection's execute and fetchall)."""
    found: dict[str, Any] = query(FACTS, (_TEMPLATE, SESSION, MARK))[0][0]
    return found


def versions(query: Query) -> list[list[Any]]:
    found: list[list[Any]] = query(VERSIONS, ())[0][0]
    return found


def options(found: dict[str, Any], existing: str) -> str:
    """libpq's ``options`` for a scratch connection: ``existing`` (the URL's, or
    PGOPTIONS), then a ``-c`` for each session setting, which comes later and wins."""
    pins = [
        "-c " + _escape(f"{name}={value}")
        for name, value in found["session"].items()
        if value is not None
    ]
    return " ".join([existing, *pins]).strip()


def _escape(text: str) -> str:
    # libpq splits options at spaces unless escaped with a backslash.
    return text.replace("\\", "\\\\").replace(" ", "\\ ")
