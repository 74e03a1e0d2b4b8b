"""`sqlmig dump` for PostgreSQL: the schema as SQL, built from the catalog rows the drift
check reads, so what is dumped is exactly what is compared.

Objects that others can depend on (types, functions, sequences, tables, keys, views) are
ordered by pg_depend, taking kinds in a fixed order and names alphabetically wherever
the dependencies leave a choice. Indexes, other constraints, triggers, row-level
security, policies and comments follow, by name. The same database therefore always
gives the same bytes, and so does a database loaded from the dump. Tables, with their
columns, are written by pgdump_tables.py.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

import psycopg

from sqlmig.schema import LEFT_OUT, dump_header, pgacl
from sqlmig.schema.pgdump_tables import Row, TableWriter
from sqlmig.schema.pgnames import SEARCH_PATH, qual
from sqlmig.schema.postgres import Own, Rows, read_catalogs

HEADER = (
    dump_header("the catalogs")
    # Function bodies may name tables created further down, as in pg_dump's output; names
    # are written for this search_path, and literals for standard strings.
    + "\nSET check_function_bodies = false;\n"
    + f"SET search_path = {SEARCH_PATH};\n"
    + "SET standard_conforming_strings = on;\n"
)

# Which object needs which, as keys: 'c' relation, 'p' function, 't' type, 'k' key, and
# 'd<table>.<column>' a column default. A view depends through its rewrite rule, a
# default through pg_attrdef, a domain check through pg_constraint; array types stand
# for their element, row types for their table.
_KEY = """
    CASE WHEN {rel}.relkind = 'c' THEN 't' || {rel}.reltype ELSE 'c' || {rel}.oid END"""
DEPENDENCIES = f"""
    WITH edges AS (
      SELECT CASE d.classid
               WHEN 'pg_rewrite'::regclass THEN
                 (SELECT 'c' || rw.ev_class FROM pg_rewrite rw WHERE rw.oid = d.objid)
               WHEN 'pg_attrdef'::regclass THEN
                 (SELECT CASE WHEN a.attgenerated = '' THEN 'd' || ad.adrelid || '.' || ad.adnum
                              ELSE 'c' || ad.adrelid END
                  FROM pg_attrdef ad JOIN pg_attribute a
                    ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
                  WHERE ad.oid = d.objid)
               WHEN 'pg_constraint'::regclass THEN
                 (SELECT CASE WHEN k.contypid <> 0 THEN 't' || k.contypid
                              WHEN k.contype IN ('p', 'u', 'x') THEN 'k' || k.oid END
                  FROM pg_constraint k WHERE k.oid = d.objid)
               WHEN 'pg_class'::regclass THEN
                 (SELECT {_KEY.format(rel="c")} FROM pg_class c WHERE c.oid = d.objid)
               WHEN 'pg_proc'::regclass THEN 'p' || d.objid
               WHEN 'pg_type'::regclass THEN 't' || d.objid
             END AS dependent,
             CASE d.refclassid
               WHEN 'pg_class'::regclass THEN
                 (SELECT {_KEY.format(rel="c")} FROM pg_class c WHERE c.oid = d.refobjid)
               WHEN 'pg_proc'::regclass THEN 'p' || d.refobjid
               WHEN 'pg_constraint'::regclass THEN 'k' || d.refobjid
               WHEN 'pg_type'::regclass THEN
                 (SELECT CASE WHEN c.oid IS NULL THEN 't' || e.oid ELSE {_KEY.format(rel="c")} END
                  FROM pg_type t
                  JOIN pg_type e ON e.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0
                                                 THEN t.typelem ELSE t.oid END
                  LEFT JOIN pg_class c ON c.oid = e.typrelid
                  WHERE t.oid = d.refobjid)
             END AS referenced
      FROM pg_depend d
      WHERE d.deptype = 'n'
        AND d.classid IN ('pg_rewrite'::regclass, 'pg_attrdef'::regclass, 'pg_constraint'::regclass,
                          'pg_class'::regclass, 'pg_proc'::regclass, 'pg_type'::regclass)
        AND d.refclassid IN ('pg_class'::regclass, 'pg_proc'::regclass, 'pg_type'::regclass,
                             'pg_constraint'::regclass))
    SELECT DISTINCT dependent, referenced FROM edges
    WHERE dependent IS NOT NULL AND referenced IS NOT NULL AND dependent <> referenced"""

# Words quote_ident() quotes: everything but unreserved keywords.
KEYWORDS = "SELECT word FROM pg_get_keywords() WHERE catcode <> 'U'"

_TRIGGER_STATE = {"D": "DISABLE", "R": "ENABLE REPLICA", "A": "ENABLE ALWAYS"}
_COMMANDS = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def dump(conn: psycopg.Connection[Any], own: Own) -> str:
    """The schema of the database ``conn`` is connected to, as a loadable SQL script."""
    rows = read_catalogs(conn, own)
    reserved = {r[0] for r in conn.execute(KEYWORDS)}
    edges: dict[str, set[str]] = {}
    for dependent, referenced in conn.execute(DEPENDENCIES):
        edges.setdefault(dependent, set()).add(referenced)
    return _Writer(rows, reserved, edges).script()


class _Writer:
    def __init__(self, rows: Rows, reserved: set[str], edges: dict[str, set[str]]) -> None:
        self.rows = rows
        self.reserved = reserved
        # A default that calls a function is set after the functions, so that a function
        # reading the table and the table's default calling it can both be created.
        self.deferred: set[tuple[int, int]] = set()
        self.edges: dict[str, set[str]] = {}
        for dependent, referenced in edges.items():
            if dependent.startswith("d"):
                table, attnum = (int(part) for part in dependent[1:].split("."))
                if any(ref.startswith("p") for ref in referenced):
                    self.deferred.add((table, attnum))
                else:
                    self.edges.setdefault(f"c{table}", set()).update(referenced)
            else:
                self.edges.setdefault(dependent, set()).update(referenced)
        self.table_writer = TableWriter(rows, self.deferred, self.ident, self.qual)
        self.tables = self.table_writer.tables

    def ident(self, name: str) -> str:
        plain = name.isidentifier() and name == name.lower() and name.isascii()
        if plain and name not in self.reserved:
            return name
        return '"' + name.replace('"', '""') + '"'

    def qual(self, schema: str, name: str) -> str:
        if schema == SEARCH_PATH:
            return self.ident(name)
        return f"{self.ident(schema)}.{self.ident(name)}"

    def script(self) -> str:
        parts = [HEADER]
        left_out = sorted(f"{kind} {name}" for kind, name in self.rows["other"])
        if left_out:
            parts.append("".join(f"{LEFT_OUT}{what}\n" for what in left_out))
        for section in (
            self._schemas(),
            self._extensions(),
            self._ordered_objects(),
            self.table_writer.late_defaults(),
            self._after_tables(),
            self._comments(),
            pgacl.statements(self.rows, self.ident, self.qual),
        ):
            parts += section
        return "\n".join(parts)

    def _schemas(self) -> list[str]:
        return [f"CREATE SCHEMA {self.ident(r[0])};\n" for r in sorted(self.rows["schema"])]

    def _extensions(self) -> list[str]:
        # In creation order: an extension that requires another was created after it.
        return [
            f"CREATE EXTENSION {self.ident(name)} WITH SCHEMA {self.ident(schema)} "
            f"VERSION {literal(version)};\n"
            for name, schema, _oid, version in sorted(self.rows["extension"], key=lambda r: r[2])
        ]

    def _ordered_objects(self) -> list[str]:
        """Types, functions, sequences, tables, keys and views, each after what it needs."""
        nodes: dict[str, tuple[int, str, Callable[[Row], str], Row]] = {}
        for r in self.rows["type"]:
            nodes[f"t{r[10]}"] = (0, qual(r[0], r[1]), self._type, r)
        for r in self.rows["function"]:
            nodes[f"p{r[6]}"] = (1, f"{qual(r[0], r[1])}({r[3]})", _function, r)
        for r in self.rows["sequence"]:
            nodes[f"c{r[10]}"] = (2, qual(r[0], r[1]), self._sequence, r)
        for r in self.rows["table"]:
            nodes[f"c{r[10]}"] = (3, qual(r[0], r[1]), self.table_writer.table, r)
            # A partition or an inheriting table needs its parents; pg_inherits says so,
            # not pg_depend.
            parents = [self.tables[(r[8][0], r[8][1])][10]] if r[8] else r[12] or []
            self.edges.setdefault(f"c{r[10]}", set()).update(f"c{oid}" for oid in parents)
        for r in self.rows["constraint"]:
            if r[5] in ("p", "u", "x") and (r[0], r[1]) in self.tables:
                nodes[f"k{r[7]}"] = (4, f"{qual(r[0], r[1])}.{r[2]}", self._constraint, r)
                table_oid = self.tables[(r[0], r[1])][10]
                self.edges.setdefault(f"k{r[7]}", set()).add(f"c{table_oid}")
        for r in self.rows["view"]:
            nodes[f"c{r[6]}"] = (5, qual(r[0], r[1]), self._view, r)
        order = _toposort({k: (rank, name) for k, (rank, name, *_) in nodes.items()}, self.edges)
        return [render(row) + "\n" for render, row in (nodes[k][2:] for k in order)]

    def _type(self, r: Row) -> str:
        name = self.qual(r[0], r[1])
        if r[2] == "e":
            return f"CREATE TYPE {name} AS ENUM ({', '.join(r[3] or [])});"
        if r[2] == "c":
            return f"CREATE TYPE {name} AS ({', '.join(r[8] or [])});"
        parts = [f"CREATE DOMAIN {name} AS {r[4]}"]
        if r[6] is not None:
            parts.append(f"DEFAULT {r[6]}")
        if r[5]:
            parts.append("NOT NULL")
        # CREATE DOMAIN cannot say NOT VALID; ALTER DOMAIN can.
        constraints = r[7] or []
        parts += [c for c in constraints if not c.endswith(" NOT VALID")]
        later = [f"ALTER DOMAIN {name} ADD {c};" for c in constraints if c.endswith(" NOT VALID")]
        return "\n\n".join([" ".join(parts) + ";", *later])

    def _sequence(self, r: Row) -> str:
        _s, _n, seqtype, start, increment, low, high, cache, cycle = r[:9]
        return (
            f"CREATE {'UNLOGGED ' if r[12] else ''}SEQUENCE {self.qual(r[0], r[1])} "
            f"AS {seqtype} START WITH {start} "
            f"INCREMENT BY {increment} MINVALUE {low} MAXVALUE {high} CACHE {cache}"
            f"{' CYCLE' if cycle else ''};"
        )

    def _constraint(self, r: Row) -> str:
        return f"ALTER TABLE {self.qual(r[0], r[1])} ADD CONSTRAINT {self.ident(r[2])} {r[3]};"

    def _view(self, r: Row) -> str:
        s, name, kind, definition, _comment, options = r[:6]
        kind_name = "MATERIALIZED VIEW" if kind == "m" else "VIEW"
        with_options = f" WITH ({', '.join(options)})" if options else ""
        query = definition.rstrip().rstrip(";")
        tail = "\nWITH NO DATA" if kind == "m" else ""
        return f"CREATE {kind_name} {self.qual(s, name)}{with_options} AS\n{query}{tail};"

    def _after_tables(self) -> list[str]:
        out = []
        for r in sorted(self.rows["sequence"], key=lambda r: (r[0], r[1])):
            if r[9]:
                owner = f"{self.qual(r[9][0], r[9][1])}.{self.ident(r[9][2])}"
                out.append(f"ALTER SEQUENCE {self.qual(r[0], r[1])} OWNED BY {owner};\n")
        # The server writes an index on a partitioned table as ON ONLY, for pg_dump to
        # attach the partitions' own indexes; without ONLY it builds those itself.
        out += [
            f"{r[3].replace(' ON ONLY ', ' ON ', 1)};\n"
            for r in sorted(self.rows["index"], key=lambda r: (r[0], r[2]))
        ]
        constraints = sorted(self.rows["constraint"], key=lambda r: (r[0], r[1], r[2]))
        out += [
            f"ALTER INDEX {self.qual(r[0], r[9])} SET ({', '.join(r[8])});\n"
            for r in constraints
            if r[8] and r[6]
        ]
        for kinds in (("c",), ("f",)):  # a foreign key may need a unique index made above
            out += [self._constraint(r) + "\n" for r in constraints if r[5] in kinds and r[6]]
        for r in sorted(self.rows["trigger"], key=lambda r: (r[0], r[1], r[2])):
            out.append(f"{r[3]};\n")
            if r[4] in _TRIGGER_STATE:
                state = f"{_TRIGGER_STATE[r[4]]} TRIGGER {self.ident(r[2])}"
                out.append(f"ALTER TABLE {self.qual(r[0], r[1])} {state};\n")
        for r in sorted(self.rows["table"], key=lambda r: (r[0], r[1])):
            if r[14]:  # after the indexes: USING INDEX names one
                out.append(f"ALTER TABLE {self.qual(r[0], r[1])} REPLICA IDENTITY {r[14]};\n")
            if r[4]:
                out.append(f"ALTER TABLE {self.qual(r[0], r[1])} ENABLE ROW LEVEL SECURITY;\n")
            if r[5]:
                out.append(f"ALTER TABLE {self.qual(r[0], r[1])} FORCE ROW LEVEL SECURITY;\n")
        out += [self._policy(r) for r in sorted(self.rows["policy"], key=lambda r: r[:3])]
        return out

    def _policy(self, r: Row) -> str:
        s, table, name, permissive, command, roles, using, check = r[:8]
        parts = [f"CREATE POLICY {self.ident(name)} ON {self.qual(s, table)}"]
        if not permissive:
            parts.append("AS RESTRICTIVE")
        if command in _COMMANDS:
            parts.append(f"FOR {_COMMANDS[command]}")
        if roles and roles != ["public"]:
            parts.append(f"TO {', '.join(roles)}")
        if using is not None:
            parts.append(f"USING ({using})")
        if check is not None:
            parts.append(f"WITH CHECK ({check})")
        return " ".join(parts) + ";\n"

    def _comments(self) -> list[str]:
        found: list[tuple[str, str]] = []
        rows = self.rows
        found += [(f"SCHEMA {self.ident(r[0])}", r[2]) for r in rows["schema"]]
        found += [(f"TABLE {self.qual(r[0], r[1])}", r[9]) for r in rows["table"]]
        found += [(f"SEQUENCE {self.qual(r[0], r[1])}", r[11]) for r in rows["sequence"]]
        found += [  # not of foreign tables: the dump does not create those
            (f"COLUMN {self.qual(r[0], r[1])}.{self.ident(r[2])}", r[9])
            for r in rows["column"]
            if r[11] != "f"
        ]
        for kind, rows_of, at in (("CONSTRAINT", "constraint", 4), ("TRIGGER", "trigger", 5)):
            found += [
                (f"{kind} {self.ident(r[2])} ON {self.qual(r[0], r[1])}", r[at])
                for r in rows[rows_of]
            ]
        found += [
            (f"POLICY {self.ident(r[2])} ON {self.qual(r[0], r[1])}", r[8]) for r in rows["policy"]
        ]
        found += [(f"INDEX {self.qual(r[0], r[2])}", r[4]) for r in rows["index"]]
        found += [
            (f"{'MATERIALIZED VIEW' if r[2] == 'm' else 'VIEW'} {self.qual(r[0], r[1])}", r[4])
            for r in rows["view"]
        ]
        found += [
            (f"{'PROCEDURE' if r[2] == 'p' else 'FUNCTION'} {self.qual(r[0], r[1])}({r[3]})", r[5])
            for r in rows["function"]
        ]
        found += [
            (f"{'DOMAIN' if r[2] == 'd' else 'TYPE'} {self.qual(r[0], r[1])}", r[9])
            for r in rows["type"]
        ]
        return [f"COMMENT ON {what} IS {literal(text)};\n" for what, text in sorted(found) if text]


def _function(r: tuple[Any, ...]) -> str:
    return str(r[4]).strip() + ";"


def _toposort(nodes: dict[str, tuple[int, str]], edges: dict[str, set[str]]) -> list[str]:
    """``nodes`` (key -> (rank, name)) with each after the nodes it depends on; where that
    leaves a choice, lowest rank then name first. A cycle (PostgreSQL tolerates a few,
    such as a function and a default that call each other) is broken by the same rule."""
    waiting = {k: {d for d in edges.get(k, ()) if d in nodes and d != k} for k in nodes}
    needed_by: dict[str, list[str]] = {}
    for key, deps in waiting.items():
        for dep in deps:
            needed_by.setdefault(dep, []).append(key)
    ready = [(nodes[k], k) for k, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(nodes):
        if not ready:
            stuck = min((nodes[k], k) for k in nodes if k not in done)
            waiting[stuck[1]].clear()
            ready.append(stuck)
        _, key = heapq.heappop(ready)
        if key in done:
            continue
        order.append(key)
        done.add(key)
        for other in needed_by.get(key, []):
            waiting[other].discard(key)
            if not waiting[other] and other not in done:
                heapq.heappush(ready, (nodes[other], other))
    return order
