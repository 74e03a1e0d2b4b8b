"""ALTER TABLE's subcommands: the lock each takes, and which of them scan or rewrite."""

from __future__ import annotations

from typing import Any

from sqlmig.lint.context import FileContext
from sqlmig.lint.pg_model import Catalog, char_offset, contype, rel, subtype
from sqlmig.lint.pg_types import (
    SERIAL_TYPES,
    VOLATILE_FUNCTIONS,
    rewrites,
    type_sig,
    volatile_call,
)


def check_alter(
    ctx: FileContext,
    table: str | None,
    node: Any,
    catalog: Catalog,
    not_valid: dict[tuple[str, str], str],
) -> None:
    """Rules for ``ALTER TABLE table ...``; ``table`` is None when the table is new, where
    only NOT VALID bookkeeping matters (a later VALIDATE in the same transaction)."""
    key = rel(node.relation)
    for cmd in node.cmds or ():
        what = subtype(cmd)
        if what == "AT_AddConstraint":
            _record_not_valid(key, cmd.def_, not_valid)
        if table is None:
            continue
        at = char_offset(ctx.statements[ctx.current].text, getattr(cmd.def_, "location", None))
        if what == "AT_AddColumn":
            if cmd.missing_ok and catalog.has_column(table, cmd.def_.colname):
                continue  # ADD COLUMN IF NOT EXISTS of a column the set already added: a no-op
            _add_column(ctx, table, cmd.def_, catalog, at)
        elif what == "AT_AddConstraint":
            _add_constraint(ctx, table, cmd.def_, catalog, at)
        elif what == "AT_ValidateConstraint":
            _validate(ctx, table, cmd.name, not_valid)
        elif what == "AT_SetNotNull":
            _set_not_null(ctx, table, cmd.name, catalog)
        elif what == "AT_AlterColumnType":
            _alter_type(ctx, table, cmd, catalog, at)


_NOT_VALID_RULES = {
    "CONSTR_FOREIGN": "fk-not-valid",
    "CONSTR_CHECK": "check-not-valid",
    "CONSTR_NOTNULL": "set-not-null",
}


def _record_not_valid(table: str, con: Any, not_valid: dict[tuple[str, str], str]) -> None:
    rule = _NOT_VALID_RULES.get(contype(con))
    if rule and con.skip_validation and con.conname:
        not_valid[(table, con.conname)] = rule


def _add_column(ctx: FileContext, table: str, col: Any, catalog: Catalog, at: int) -> None:
    constraints = list(col.constraints or ())
    kinds = {contype(c): c for c in constraints}
    sig = type_sig(col.typeName)
    name = f"{table}.{col.colname}"
    default = kinds.get("CONSTR_DEFAULT")
    fills = sig.base in SERIAL_TYPES or "CONSTR_IDENTITY" in kinds or "CONSTR_GENERATED" in kinds
    rewrite = _rewrite_reason(ctx, sig.base, kinds, default, catalog)
    if rewrite:
        ctx.add(
            "add-column-rewrite",
            f"adds column {name} with {rewrite}, which rewrites the table",
            at=at,
            lock=f"ACCESS EXCLUSIVE on {table} while it is rewritten",
        )
    not_null = col.is_not_null or "CONSTR_NOTNULL" in kinds or "CONSTR_PRIMARY" in kinds
    if not_null and default is None and not fills:
        ctx.add(
            "add-column-not-null",
            f"adds NOT NULL column {name} without a default: fails if {table} has rows",
            at=at,
        )
    for con in constraints:
        _column_constraint(ctx, table, name, con, at)


def _rewrite_reason(
    ctx: FileContext, base: str, kinds: dict[str, Any], default: Any, catalog: Catalog
) -> str:
    if base in SERIAL_TYPES:
        return f"type {base} (a nextval() default, volatile)"
    if "CONSTR_IDENTITY" in kinds:
        return "an identity (every existing row gets a value)"
    generated = kinds.get("CONSTR_GENERATED")
    if generated is not None and generated.generated_kind != "v":
        return "a stored generated value"
    if default is None:
        return ""
    call = volatile_call(default.raw_expr, catalog.volatility)
    if call in VOLATILE_FUNCTIONS or catalog.volatility.get(call or "") == "volatile":
        return f"the volatile default {call}()"
    if call:
        return f"default {call}(), volatile unless the function is declared STABLE or IMMUTABLE"
    if ctx.env.server_version < 11 and not _null_const(default.raw_expr):
        return f"a default on PostgreSQL {ctx.env.server_version} (11 and later do not rewrite)"
    return ""


def _null_const(expr: Any) -> bool:
    return type(expr).__name__ == "A_Const" and bool(expr.isnull)


def _column_constraint(ctx: FileContext, table: str, name: str, con: Any, at: int) -> None:
    what = contype(con)
    if what == "CONSTR_FOREIGN":
        _fk_finding(ctx, table, con, at, f"adds column {name} with a foreign key")
    elif what == "CONSTR_CHECK":
        _check_finding(ctx, table, at, f"adds column {name} with a CHECK")
    elif what in ("CONSTR_UNIQUE", "CONSTR_PRIMARY"):
        label = "UNIQUE" if what == "CONSTR_UNIQUE" else "PRIMARY KEY"
        _unique_finding(ctx, table, at, f"adds column {name} as {label}")


def _add_constraint(ctx: FileContext, table: str, con: Any, catalog: Catalog, at: int) -> None:
    what = contype(con)
    named = f" {con.conname}" if con.conname else ""
    if what == "CONSTR_FOREIGN" and not con.skip_validation:
        _fk_finding(ctx, table, con, at, f"adds foreign key{named} without NOT VALID")
    elif what == "CONSTR_CHECK" and not con.skip_validation:
        _check_finding(ctx, table, at, f"adds CHECK{named} without NOT VALID")
    elif what in ("CONSTR_UNIQUE", "CONSTR_PRIMARY") and not con.indexname:
        label = "UNIQUE" if what == "CONSTR_UNIQUE" else "PRIMARY KEY"
        _unique_finding(ctx, table, at, f"adds {label}{named} without USING INDEX")
    elif what == "CONSTR_EXCLUSION":
        _unique_finding(
            ctx,
            table,
            at,
            f"adds exclusion constraint{named}, which builds its index under the lock",
            fix="an exclusion constraint cannot reuse an index: add it while the table is "
            "small or in a maintenance window, and allow it with that reason",
        )
    elif what == "CONSTR_NOTNULL" and not con.skip_validation:
        column = con.keys[0].sval if con.keys else "?"
        if not catalog.proven_not_null(table, column):
            _not_null_finding(ctx, table, column, at, "ADD CONSTRAINT ... NOT NULL")


def _fk_finding(ctx: FileContext, table: str, con: Any, at: int, message: str) -> None:
    target = rel(con.pktable) if con.pktable is not None else "the referenced table"
    ctx.add(
        "fk-not-valid",
        f"{message}: scans {table} to validate it",
        at=at,
        lock=f"SHARE ROW EXCLUSIVE on {table} and {target} while {table} is scanned",
    )


def _check_finding(ctx: FileContext, table: str, at: int, message: str) -> None:
    ctx.add(
        "check-not-valid",
        f"{message}: scans {table} to validate it",
        at=at,
        lock=f"ACCESS EXCLUSIVE on {table} while it is scanned",
    )


def _unique_finding(
    ctx: FileContext, table: str, at: int, message: str, fix: str | None = None
) -> None:
    ctx.add(
        "unique-without-index",
        f"{message}: builds an index on {table} under its lock",
        at=at,
        lock=f"ACCESS EXCLUSIVE on {table} while the index is built",
        fix=fix,
    )


def _validate(
    ctx: FileContext, table: str, name: str, not_valid: dict[tuple[str, str], str]
) -> None:
    rule = not_valid.get((table, name))
    if rule and ctx.in_transaction:
        ctx.add(
            rule,
            f"validates {name} in the transaction that added it NOT VALID: the lock taken "
            "to add it is still held while VALIDATE scans the table",
            fix="VALIDATE CONSTRAINT in a later migration, so the scan runs under SHARE UPDATE "
            "EXCLUSIVE only",
        )


def _set_not_null(ctx: FileContext, table: str, column: str, catalog: Catalog) -> None:
    if catalog.marked_not_null(table, column):
        return  # already NOT NULL: PostgreSQL changes nothing and scans nothing
    if ctx.env.server_version >= 12 and catalog.proven_not_null(table, column):
        return
    _not_null_finding(ctx, table, column, 0, "SET NOT NULL")


def _not_null_finding(ctx: FileContext, table: str, column: str, at: int, what: str) -> None:
    fix = None
    if ctx.env.server_version < 12:
        fix = (
            f"PostgreSQL {ctx.env.server_version} always scans: run it while the table is small "
            "or in a maintenance window (12 and later can skip the scan after a validated CHECK)"
        )
    ctx.add(
        "set-not-null",
        f"{what} on {table}.{column} scans the whole table: no validated CHECK "
        f"({column} IS NOT NULL) proves it",
        at=at,
        lock=f"ACCESS EXCLUSIVE on {table} while it is scanned",
        fix=fix,
    )


def _alter_type(ctx: FileContext, table: str, cmd: Any, catalog: Catalog, at: int) -> None:
    old = catalog.column_type(table, cmd.name)
    new = type_sig(cmd.def_.typeName)
    verdict = rewrites(old, new, using=cmd.def_.raw_default is not None)
    if verdict is False:
        return
    name = f"{table}.{cmd.name}"
    if verdict is None:
        message = (
            f"changes {name} to {new}; its current type is not in the migration set, so "
            "lint cannot tell whether this only widens it (no rewrite) or rewrites the table"
        )
    else:
        message = f"changes {name} from {old or 'its type'} to {new}, which rewrites the table"
        if old and {old.base, new.base} == {"timestamp", "timestamptz"}:
            message += " (unless the session's TimeZone is UTC)"
    ctx.add(
        "column-type-rewrite",
        message,
        at=at,
        lock=f"ACCESS EXCLUSIVE on {table} while it and its indexes are rewritten",
    )
