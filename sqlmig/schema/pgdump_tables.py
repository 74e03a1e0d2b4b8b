"""The tables of `sqlmig dump` for PostgreSQL (pgdump.py): CREATE TABLE with its columns,
partitions and inheritance, what inherited columns have beyond their parents', and
the defaults that must wait until the functions they call exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmig.schema.postgres import Rows

Row = tuple[Any, ...]


class TableWriter:
    """``deferred``: the (table oid, attnum) of defaults that call a function, set by
    ``late_defaults`` after the functions rather than in CREATE TABLE."""

    def __init__(
        self,
        rows: Rows,
        deferred: set[tuple[int, int]],
        ident: Callable[[str], str],
        qual: Callable[[str, str], str],
    ) -> None:
        self.rows = rows
        self.deferred = deferred
        self.ident = ident
        self.qual = qual
        self.tables = {(t[0], t[1]): t for t in rows["table"]}
        self.by_oid = {t[10]: (t[0], t[1]) for t in rows["table"]}
        self.columns: dict[tuple[str, str], list[Row]] = {}
        for col in sorted(rows["column"], key=lambda r: r[10]):
            self.columns.setdefault((col[0], col[1]), []).append(col)

    def table(self, r: Row) -> str:
        s, name, _kind, persistence, _rls, _force, partkey, bound, parent = r[:9]
        me = self.qual(s, name)
        head = f"CREATE {'UNLOGGED ' if persistence == 'u' else ''}TABLE {me}"
        tail = (f" PARTITION BY {partkey}" if partkey else "") + (
            f" WITH ({', '.join(r[13])})" if r[13] else ""
        )
        columns = self.columns.get((s, name), [])
        parents = [(parent[0], parent[1])] if parent else [self.by_oid[o] for o in r[12] or []]
        inherited = {c[2]: c for ps, pn in parents for c in self.columns.get((ps, pn), [])}
        # CREATE TABLE puts inherited columns first, in the parents' order: when the table
        # has its columns in another order, create it whole and attach it afterwards.
        natural = list(dict.fromkeys(c[2] for ps, pn in parents for c in self.columns[(ps, pn)]))
        natural += [c[2] for c in columns if c[2] not in inherited]
        if parents and [c[2] for c in columns] != natural:
            created = f"{head} {self._column_list(columns, r[10])}{tail};"
            if parent:
                attach = f"ALTER TABLE {self.qual(*parents[0])} ATTACH PARTITION {me} {bound};"
                return f"{created}\n\n{attach}"
            joins = [f"ALTER TABLE {me} INHERIT {self.qual(ps, pn)};" for ps, pn in parents]
            return "\n\n".join([created, *joins])
        if parent:
            created = f"{head} PARTITION OF {self.qual(*parents[0])} {bound}{tail};"
        else:  # an inheriting table declares only its own columns
            own = [c for c in columns if c[12] or c[2] not in inherited]
            listed = f"{head} {self._column_list(own, r[10])}"
            if parents:
                listed += f" INHERITS ({', '.join(self.qual(ps, pn) for ps, pn in parents)})"
            created = listed + tail + ";"
        changes = self._inherited_changes(me, r[10], columns, inherited)
        return "\n\n".join([created, *changes])

    def _column_list(self, columns: list[Row], table_oid: int) -> str:
        if not columns:
            return "()"
        return "(\n" + ",\n".join(f"    {self._column(c, table_oid)}" for c in columns) + "\n)"

    def _inherited_changes(
        self, me: str, table_oid: int, columns: list[Row], inherited: dict[str, Row]
    ) -> list[str]:
        """ALTER statements for what inherited columns have beyond their parent's."""
        out = []
        for c in columns:
            source = inherited.get(c[2])
            if source is None or c[12] or c[7] == "s":  # declared here, or generated
                continue
            column = f"ALTER TABLE ONLY {me} ALTER COLUMN {self.ident(c[2])}"
            if c[4] and not source[4]:
                out.append(f"{column} SET NOT NULL;")
            if (table_oid, c[13]) in self.deferred:
                continue  # set after the functions, like every default that calls one
            parent_oid = self.tables[(source[0], source[1])][10]
            got = None if (parent_oid, source[13]) in self.deferred else source[5]
            if c[5] != got:
                out.append(f"{column} SET DEFAULT {c[5]};" if c[5] else f"{column} DROP DEFAULT;")
        return out

    def _column(self, c: Row, table_oid: int) -> str:
        _s, _t, name, ctype, notnull, default, identity, generated, collation = c[:9]
        parts = [self.ident(name), ctype]
        if collation:
            parts.append(f"COLLATE {collation}")
        if generated == "s":
            parts.append(f"GENERATED ALWAYS AS ({default}) STORED")
        elif identity:
            kind = "ALWAYS" if identity == "a" else "BY DEFAULT"
            parts.append(f"GENERATED {kind} AS IDENTITY ({c[14]})")
        elif default is not None and (table_oid, c[13]) not in self.deferred:
            parts.append(f"DEFAULT {default}")
        if notnull and not identity:
            parts.append("NOT NULL")
        return " ".join(parts)

    def late_defaults(self) -> list[str]:
        """Defaults that call functions, and defaults of view columns."""
        views = {(v[0], v[1]) for v in self.rows["view"] if v[2] == "v"}
        out = []
        for (s, name), columns in sorted(self.columns.items()):
            if (s, name) in self.tables:
                kind, oid = "TABLE ONLY", self.tables[(s, name)][10]
            elif (s, name) in views:
                kind, oid = "VIEW", None
            else:
                continue
            for c in columns:
                if c[5] is not None and (oid is None or (oid, c[13]) in self.deferred):
                    out.append(
                        f"ALTER {kind} {self.qual(s, name)} ALTER COLUMN {self.ident(c[2])} "
                        f"SET DEFAULT {c[5]};\n"
                    )
        return out
