"""PostgreSQL rules, one function per statement kind, judged in the file's context.

Every rule is silent on tables created earlier in the same file or batch. Lock levels
are PostgreSQL's ("Explicit Locking" and each command's page), checked on a server by
reading pg_locks inside the transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmig.lint.context import FileContext
from sqlmig.lint.pg_alter import check_alter
from sqlmig.lint.pg_model import Catalog, kind, qualified, rel, sibling

LOCK_MODES = {
    1: "ACCESS SHARE",
    2: "ROW SHARE",
    3: "ROW EXCLUSIVE",
    4: "SHARE UPDATE EXCLUSIVE",
    5: "SHARE",
    6: "SHARE ROW EXCLUSIVE",
    7: "EXCLUSIVE",
    8: "ACCESS EXCLUSIVE",
}
CURSOR_OPT_HOLD = 0x20


@dataclass
class PgState:
    """What the rules remember between the statements of one file."""

    catalog: Catalog
    not_valid: dict[tuple[str, str], str] = field(default_factory=dict)  # added NOT VALID here
    ddl: set[str] = field(default_factory=set)  # existing tables whose schema the file changes
    dml: list[tuple[int, str]] = field(default_factory=list)  # UPDATE/DELETE of existing tables
    timeout_reported: bool = False


Check = Callable[[FileContext, Any, PgState], None]


def check_node(ctx: FileContext, node: Any, state: PgState) -> None:
    """Every PostgreSQL rule that applies to the current statement (parse tree ``node``)."""
    handler = _CHECKS.get(kind(node))
    if handler:
        handler(ctx, node, state)
    if not ctx.in_transaction:
        _needs_transaction(ctx, node)
    if ctx.env.lock_timeout == 0 and not state.timeout_reported:
        table = _blocking_table(ctx, node, state.catalog)
        if table:
            state.timeout_reported = True
            ctx.add(
                "lock-timeout",
                f"lock_timeout is 0, so this waits forever for its lock on {table}, and every "
                "query on the table waits behind it",
            )


def finish_file(ctx: FileContext, state: PgState) -> None:
    """Rules that need the whole file: a backfill next to a schema change of its table."""
    if not ctx.transactional:
        return
    for index, table in state.dml:
        if table in state.ddl:
            ctx.add(
                "backfill-with-ddl",
                f"changes rows of {table} in the transaction that also changes its schema",
                index=index,
            )


def _existing(ctx: FileContext, range_var: Any) -> str | None:
    """The table's name when it existed before this migration (or batch), else None."""
    table = rel(range_var)
    return None if ctx.new.table(table) else table


def _index(ctx: FileContext, node: Any, state: PgState) -> None:
    table = _existing(ctx, node.relation)
    if table is None or node.concurrent:
        return
    if node.if_not_exists and _index_key(node) in state.catalog.indexes:
        return  # IF NOT EXISTS of an index the set already built: nothing is built
    state.ddl.add(table)
    known = state.catalog.tables.get(table)
    partitioned = bool(known and known.partitioned)
    if partitioned and not node.relation.inh:
        return  # ON ONLY a partitioned table: an empty, invalid index; nothing is built
    unique = "UNIQUE " if node.unique else ""
    fix = None
    if partitioned:
        fix = (
            f"{table} is partitioned, where CONCURRENTLY is refused: CREATE INDEX ... ON ONLY "
            f"{table}, CREATE INDEX CONCURRENTLY on each partition (no-transaction files), then "
            "ALTER INDEX ... ATTACH PARTITION for each"
        )
    ctx.add(
        "index-not-concurrent",
        f"CREATE {unique}INDEX on existing table {table} without CONCURRENTLY",
        lock=f"SHARE on {table} for the whole build",
        fix=fix,
    )


def _index_key(node: Any) -> str:
    return sibling(node.relation, node.idxname or "")


def _reindex(ctx: FileContext, node: Any, state: PgState) -> None:
    concurrent = any(p.defname == "concurrently" and _truthy(p.arg) for p in node.params or ())
    what = node.kind.name.removeprefix("REINDEX_OBJECT_").lower()
    if node.relation is None:  # SCHEMA, DATABASE, SYSTEM
        if not concurrent:
            ctx.add("index-not-concurrent", f"REINDEX {what.upper()} locks every table")
        return
    target = rel(node.relation)
    table = state.catalog.indexes.get(target, target) if what == "index" else target
    if ctx.new.table(table):
        return
    known = state.catalog.tables.get(table)
    if ctx.in_transaction and known and known.partitioned:
        ctx.add(
            "needs-no-transaction",
            f"REINDEX of partitioned table {table} cannot run inside a transaction block",
        )
    if not concurrent:
        ctx.add(
            "index-not-concurrent",
            f"REINDEX {what.upper()} {target} without CONCURRENTLY",
            lock=f"SHARE on {table}, ACCESS EXCLUSIVE on the index being rebuilt",
        )


def _truthy(arg: Any) -> bool:
    if arg is None:
        return True
    value = getattr(arg, "sval", None) or getattr(arg, "ival", None)
    return str(value).lower() not in ("false", "off", "0", "no")


def _cluster(ctx: FileContext, node: Any, state: PgState) -> None:
    if node.relation is None:
        ctx.add("cluster", "CLUSTER rewrites every clustered table")
        return
    table = _existing(ctx, node.relation)
    if table is None:
        return
    known = state.catalog.tables.get(table)
    if ctx.in_transaction and known and known.partitioned:
        ctx.add(
            "needs-no-transaction",
            f"CLUSTER of partitioned table {table} cannot run inside a transaction block",
        )
    ctx.add("cluster", f"CLUSTER rewrites {table}", lock=f"ACCESS EXCLUSIVE on {table}")


def _vacuum(ctx: FileContext, node: Any, state: PgState) -> None:
    full = any(o.defname == "full" and _truthy(o.arg) for o in node.options or ())
    if not (node.is_vacuumcmd and full):
        return
    rels = [r.relation for r in node.rels or ()]
    tables = [t for r in rels if (t := _existing(ctx, r))]
    if not rels:
        ctx.add("vacuum-full", "VACUUM FULL rewrites every table of the database")
    elif tables:
        names = ", ".join(tables)
        ctx.add(
            "vacuum-full",
            f"VACUUM FULL rewrites {names}",
            lock=f"ACCESS EXCLUSIVE on {names}",
        )


def _lock(ctx: FileContext, node: Any, state: PgState) -> None:
    if node.mode < 5:
        return
    mode = LOCK_MODES[node.mode]
    for range_var in node.relations or ():
        table = _existing(ctx, range_var)
        if table:
            ctx.add(
                "lock-table",
                f"LOCK TABLE {table} IN {mode} MODE holds the lock until the migration commits",
                lock=f"{mode} on {table} until commit",
            )


def _dml(ctx: FileContext, node: Any, state: PgState) -> None:
    table = _existing(ctx, node.relation)
    if table:
        state.dml.append((ctx.current, table))


def _rename(ctx: FileContext, node: Any, state: PgState) -> None:
    if node.relation is not None and (table := _existing(ctx, node.relation)):
        state.ddl.add(table)
        if node.renameType.name == "OBJECT_TABLE":  # later statements use the new name
            state.ddl.add(sibling(node.relation, node.newname))


def _alter(ctx: FileContext, node: Any, state: PgState) -> None:
    if node.relation is None or node.objtype.name != "OBJECT_TABLE":
        return
    table = _existing(ctx, node.relation)
    if table is not None:
        state.ddl.add(table)
        check_alter(ctx, table, node, state.catalog, state.not_valid)
    else:  # still remember NOT VALID constraints: a later VALIDATE is judged against them
        check_alter(ctx, None, node, state.catalog, state.not_valid)


_ZERO = {"0", "0ms", "0s", "0min"}


def _set(ctx: FileContext, node: Any, state: PgState) -> None:
    what = node.kind.name
    scope = "this migration" if node.is_local else "this and every later migration of the run"
    if what == "VAR_RESET_ALL":
        ctx.add(
            "lock-timeout",
            "RESET ALL resets lock_timeout to the server's default (normally 0: off) for " + scope,
        )
    if node.name != "lock_timeout":
        return
    if what in ("VAR_SET_DEFAULT", "VAR_RESET"):
        ctx.add("lock-timeout", f"resets lock_timeout to the server's default for {scope}")
    elif what == "VAR_SET_VALUE" and node.args:
        value = node.args[0].val
        shown = str(getattr(value, "sval", None) or getattr(value, "ival", 0)).strip().lower()
        if shown in _ZERO:
            ctx.add("lock-timeout", f"SET lock_timeout = 0 turns it off for {scope}")


def _needs_transaction(ctx: FileContext, node: Any) -> None:
    what = kind(node)
    problem = None
    if what == "LockStmt":
        problem = "LOCK TABLE is refused outside a transaction block"
    elif what == "TransactionStmt" and node.kind.name in (
        "TRANS_STMT_SAVEPOINT",
        "TRANS_STMT_RELEASE",
        "TRANS_STMT_ROLLBACK_TO",
    ):
        problem = "savepoints are refused outside a transaction block"
    elif what == "DeclareCursorStmt" and not node.options & CURSOR_OPT_HOLD:
        problem = "DECLARE without WITH HOLD is refused outside a transaction block"
    elif what == "VariableSetStmt" and node.is_local:
        problem = "SET LOCAL outside a transaction block has no effect"
    if problem:
        ctx.add("needs-transaction", f"{problem}, and this file runs without one")


def _blocking_table(ctx: FileContext, node: Any, catalog: Catalog) -> str | None:
    """The existing table ``node`` locks against reads or writes, if any."""
    what = kind(node)
    relations: list[Any] = []
    if what in ("AlterTableStmt", "RenameStmt", "ClusterStmt", "CreateTrigStmt") or (
        what == "IndexStmt" and not node.concurrent
    ):
        relations = [node.relation]
    elif what in ("TruncateStmt", "LockStmt"):
        relations = list(node.relations or ())
    elif what == "RefreshMatViewStmt" and not node.concurrent:
        relations = [node.relation]
    elif what == "CreateStmt":
        relations = [c.pktable for c in _foreign_keys(node)]
    elif what == "DropStmt" and node.removeType.name == "OBJECT_TABLE":
        dropped = [qualified(names) for names in node.objects or ()]
        return next((t for t in dropped if not ctx.new.table(t)), None)
    found = [_existing(ctx, r) for r in relations if r is not None]
    return next((t for t in found if t), None)


def _foreign_keys(node: Any) -> list[Any]:
    found = []
    for elt in node.tableElts or ():
        constraints = (
            [elt] if kind(elt) == "Constraint" else list(getattr(elt, "constraints", None) or ())
        )
        found += [c for c in constraints if c.contype.name == "CONSTR_FOREIGN"]
    return found


_CHECKS: dict[str, Check] = {
    "IndexStmt": _index,
    "ReindexStmt": _reindex,
    "ClusterStmt": _cluster,
    "VacuumStmt": _vacuum,
    "LockStmt": _lock,
    "UpdateStmt": _dml,
    "DeleteStmt": _dml,
    "RenameStmt": _rename,
    "AlterTableStmt": _alter,
    "VariableSetStmt": _set,
}
