"""PostgreSQL statements through pglast, and the schema they build up across the set.

pglast is imported here, lazily, and nowhere else in sqlmig: `sqlmig status` and
`sqlmig apply` never pay for it. The schema model is what rules need to know about
tables the migration set created earlier: column types (is this type change a
rewrite?), partitioned tables, and which columns a validated CHECK proves NOT NULL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlmig.lint.context import Effect
from sqlmig.lint.pg_types import SERIAL_TYPES, TypeSig, type_sig


@dataclass(frozen=True, slots=True)
class Parsed:
    nodes: list[Any]  # the statement's parse trees (normally one)
    error: tuple[int, str] | None = None  # (character offset, message) when pglast refuses it


def parse(text: str) -> Parsed:
    from pglast import parse_sql
    from pglast.parser import ParseError

    try:
        return Parsed([raw.stmt for raw in parse_sql(text)])
    except ParseError as exc:
        offset = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        return Parsed([], (max(0, min(offset, len(text))), str(exc.args[0])))


def char_offset(text: str, location: int | None) -> int:
    """A node's offset in ``text``: pglast reports characters (libpg_query's byte offsets,
    converted), and -1 or None where the node has no position."""
    if not location or location < 0:
        return 0
    return min(location, len(text))


def kind(node: Any) -> str:
    return type(node).__name__


def rel(range_var: Any) -> str:
    """A table's key in the model: its bare name. Migration sets mix ``auth.users`` with
    ``users`` reached through the search_path; the price of matching them is that two
    same-named tables in different schemas count as one."""
    return str(range_var.relname)


def qualified(names: Any) -> str:
    """The key of a possibly schema-qualified name list (DROP TABLE s.t): its bare name."""
    return str(names[-1].sval)


def subtype(cmd: Any) -> str:
    return str(cmd.subtype.name)


def contype(constraint: Any) -> str:
    return str(constraint.contype.name)


def not_null_column(expr: Any) -> str | None:
    """The column of a ``col IS NOT NULL`` check expression, else None."""
    if kind(expr) != "NullTest" or expr.nulltesttype.name != "IS_NOT_NULL":
        return None
    arg = expr.arg
    return str(arg.fields[-1].sval) if kind(arg) == "ColumnRef" else None


@dataclass
class Table:
    columns: dict[str, TypeSig] = field(default_factory=dict)
    partitioned: bool = False
    known: bool = True  # False once a DO block may have changed it: columns are a guess
    # constraint name -> (the column it proves NOT NULL, validated?)
    not_null_checks: dict[str, tuple[str, bool]] = field(default_factory=dict)
    # columns marked NOT NULL (SET NOT NULL on them is a no-op, no scan); those only a
    # primary key made NOT NULL are kept apart: dropping a constraint may unmark them
    not_null: set[str] = field(default_factory=set)
    key_not_null: set[str] = field(default_factory=set)


@dataclass
class Catalog:
    """What the statements so far have built; tables not in it are simply unknown."""

    tables: dict[str, Table] = field(default_factory=dict)
    indexes: dict[str, str] = field(default_factory=dict)  # index -> its table
    volatility: dict[str, str] = field(default_factory=dict)  # function -> volatile, stable...

    def copy(self) -> Catalog:
        tables = {
            name: Table(
                dict(t.columns),
                t.partitioned,
                t.known,
                dict(t.not_null_checks),
                set(t.not_null),
                set(t.key_not_null),
            )
            for name, t in self.tables.items()
        }
        return Catalog(tables, dict(self.indexes), dict(self.volatility))

    def has_column(self, table: str, column: str) -> bool:
        found = self.tables.get(table)
        return found is not None and found.known and column in found.columns

    def column_type(self, table: str, column: str) -> TypeSig | None:
        found = self.tables.get(table)
        return found.columns.get(column) if found else None

    def marked_not_null(self, table: str, column: str) -> bool:
        found = self.tables.get(table)
        return found is not None and column in found.not_null | found.key_not_null

    def proven_not_null(self, table: str, column: str) -> bool:
        found = self.tables.get(table)
        checks = found.not_null_checks.values() if found else ()
        return any(col == column and valid for col, valid in checks)

    def apply(self, node: Any) -> None:
        handler = _APPLY.get(kind(node))
        if handler:
            handler(self, node)


def _create(cat: Catalog, node: Any) -> None:
    table = Table(partitioned=node.partspec is not None)
    for elt in node.tableElts or ():
        if kind(elt) == "ColumnDef":
            _add_column(table, elt)
        elif kind(elt) == "Constraint":
            _add_check(table, elt)
            _add_key(table, elt)
    cat.tables[rel(node.relation)] = table


def _add_column(table: Table, col: Any) -> None:
    table.columns[col.colname] = type_sig(col.typeName)
    kinds = {contype(c) for c in col.constraints or ()}
    if (
        col.is_not_null
        or kinds & {"CONSTR_NOTNULL", "CONSTR_IDENTITY"}
        or type_sig(col.typeName).base in SERIAL_TYPES
    ):
        table.not_null.add(col.colname)
    elif "CONSTR_PRIMARY" in kinds:
        table.key_not_null.add(col.colname)


def _add_key(table: Table, constraint: Any) -> None:
    """A table-level PRIMARY KEY marks its columns NOT NULL; a validated NOT NULL
    constraint (PostgreSQL 18) marks its column."""
    what = contype(constraint)
    keys = [k.sval for k in constraint.keys or ()]
    if what == "CONSTR_PRIMARY":
        table.key_not_null.update(keys)
    elif what == "CONSTR_NOTNULL" and not constraint.skip_validation:
        table.not_null.update(keys)


def _add_check(table: Table, constraint: Any) -> None:
    if contype(constraint) != "CONSTR_CHECK" or not constraint.conname:
        return
    column = not_null_column(constraint.raw_expr)
    if column:
        table.not_null_checks[constraint.conname] = (column, not constraint.skip_validation)


def _alter(cat: Catalog, node: Any) -> None:
    if node.relation is None:
        return
    table = cat.tables.setdefault(rel(node.relation), Table())
    for cmd in node.cmds or ():
        what = subtype(cmd)
        if what == "AT_AddColumn":
            _add_column(table, cmd.def_)
        elif what == "AT_SetNotNull":
            table.not_null.add(cmd.name)
        elif what == "AT_DropNotNull":
            table.not_null.discard(cmd.name)
            table.key_not_null.discard(cmd.name)
        elif what == "AT_AlterColumnType":
            table.columns[cmd.name] = type_sig(cmd.def_.typeName)
        elif what == "AT_DropColumn":
            table.columns.pop(cmd.name, None)
            table.not_null.discard(cmd.name)
            table.key_not_null.discard(cmd.name)
        elif what == "AT_AddConstraint":
            _add_check(table, cmd.def_)
            _add_key(table, cmd.def_)
        elif what == "AT_ValidateConstraint" and cmd.name in table.not_null_checks:
            table.not_null_checks[cmd.name] = (table.not_null_checks[cmd.name][0], True)
        elif what == "AT_DropConstraint":
            table.not_null_checks.pop(cmd.name, None)
            table.key_not_null.clear()  # it may have been the primary key


def _rename(cat: Catalog, node: Any) -> None:
    what = node.renameType.name
    if what == "OBJECT_TABLE" and rel(node.relation) in cat.tables:
        cat.tables[sibling(node.relation, node.newname)] = cat.tables.pop(rel(node.relation))
    elif what == "OBJECT_COLUMN" and rel(node.relation) in cat.tables:
        table = cat.tables[rel(node.relation)]
        if node.subname in table.columns:
            table.columns[node.newname] = table.columns.pop(node.subname)
        for marked in (table.not_null, table.key_not_null):
            if node.subname in marked:
                marked.discard(node.subname)
                marked.add(node.newname)
    elif what == "OBJECT_INDEX" and rel(node.relation) in cat.indexes:
        cat.indexes[sibling(node.relation, node.newname)] = cat.indexes.pop(rel(node.relation))


def sibling(range_var: Any, name: str) -> str:
    """The key of ``name``, renamed from or next to ``range_var`` (a rename keeps the schema,
    and keys are bare names)."""
    return name


def _drop(cat: Catalog, node: Any) -> None:
    what = node.removeType.name
    for names in node.objects or ():
        if what == "OBJECT_TABLE":
            cat.tables.pop(qualified(names), None)
        elif what == "OBJECT_INDEX":
            cat.indexes.pop(qualified(names), None)


def _index(cat: Catalog, node: Any) -> None:
    if node.idxname:
        cat.indexes[sibling(node.relation, node.idxname)] = rel(node.relation)


def _create_as(cat: Catalog, node: Any) -> None:
    cat.tables[rel(node.into.rel)] = Table()


_NAME = r'(?:[\w$]+\.|"[^"]+"\.)?"?([\w$]+)"?'
_DO_ALTERS = re.compile(
    rf"\b(?:ALTER|DROP)\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{_NAME}", re.IGNORECASE
)
_DO_INDEXES = re.compile(
    rf"\b(?:DROP\s+INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+EXISTS\s+)?|ALTER\s+INDEX\s+"
    rf"(?:IF\s+EXISTS\s+)?){_NAME}",
    re.IGNORECASE,
)


def _do(cat: Catalog, node: Any) -> None:
    """A DO block can change tables out of the parser's sight (a conditional rename, say):
    forget what the model knows of the tables it alters and the indexes it drops."""
    body = " ".join(str(a.arg.sval) for a in node.args or () if a.defname == "as")
    for table in set(_DO_ALTERS.findall(body)) & cat.tables.keys():
        cat.tables[table] = Table(partitioned=cat.tables[table].partitioned, known=False)
    for index in set(_DO_INDEXES.findall(body)) & cat.indexes.keys():
        del cat.indexes[index]


def _function(cat: Catalog, node: Any) -> None:
    """A function's declared volatility (VOLATILE when it declares none), by bare name, as
    defaults call it."""
    options = node.options if kind(node) == "CreateFunctionStmt" else node.actions
    declared = [o.arg.sval for o in options or () if o.defname == "volatility"]
    names = node.funcname if kind(node) == "CreateFunctionStmt" else node.func.objname
    if declared or kind(node) == "CreateFunctionStmt":
        cat.volatility[names[-1].sval] = declared[-1] if declared else "volatile"


_APPLY = {
    "CreateStmt": _create,
    "AlterTableStmt": _alter,
    "RenameStmt": _rename,
    "DropStmt": _drop,
    "IndexStmt": _index,
    "CreateTableAsStmt": _create_as,
    "CreateFunctionStmt": _function,
    "DoStmt": _do,
    "AlterFunctionStmt": _function,
}


def effects(node: Any) -> list[Effect]:
    """What ``node`` creates, drops and renames, for the rules that compare old and new."""
    what = kind(node)
    if what in ("CreateStmt", "CreateTableAsStmt"):
        target = node.relation if what == "CreateStmt" else node.into.rel
        return [Effect("create_table", rel(target))]
    if what == "SelectStmt" and node.intoClause is not None:
        return [Effect("create_table", rel(node.intoClause.rel))]
    if what == "DropStmt" and node.removeType.name == "OBJECT_TABLE":
        return [Effect("drop_table", qualified(names)) for names in node.objects or ()]
    if what == "RenameStmt":
        return _rename_effects(node)
    if what == "AlterTableStmt" and node.relation is not None:
        return [e for cmd in node.cmds or () if (e := _cmd_effect(rel(node.relation), cmd))]
    return []


def _rename_effects(node: Any) -> list[Effect]:
    what = node.renameType.name
    if node.relation is None:
        return []
    table = rel(node.relation)
    if what == "OBJECT_TABLE":
        return [Effect("rename_table", table, sibling(node.relation, node.newname))]
    if what == "OBJECT_COLUMN" and node.relationType.name == "OBJECT_TABLE":
        return [Effect("rename_column", table, node.subname, node.newname)]
    return []


def _cmd_effect(table: str, cmd: Any) -> Effect | None:
    what = subtype(cmd)
    if what == "AT_AddColumn":
        return Effect("add_column", table, cmd.def_.colname)
    if what == "AT_DropColumn":
        return Effect("drop_column", table, cmd.name)
    return None
