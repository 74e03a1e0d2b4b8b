"""Column types and defaults as PostgreSQL's rewrite rules see them (pglast nodes in).

Which type changes skip the rewrite follows ALTER TABLE's documentation (binary-coercible
types, or a typmod change the type's own support function proves harmless) and was
checked on a server by watching the table's relfilenode: varchar(n) to varchar(m >= n)
or text, text to unbounded varchar, numeric(p,s) to numeric(q >= p, s), cidr to inet,
bit varying to a longer one, and a higher precision of a timestamp, time or interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_ALIASES = {"bpchar": "char", "decimal": "numeric", "bit varying": "varbit"}
_WIDENS = {"varchar", "numeric", "varbit", "timestamp", "timestamptz", "time", "timetz", "interval"}
_TEXTUAL = {"varchar", "text"}


@dataclass(frozen=True, slots=True)
class TypeSig:
    """A type as the rewrite rules compare it: base name, typmods, whether an array."""

    base: str
    mods: tuple[int, ...] = ()
    array: bool = False

    def __str__(self) -> str:
        mods = f"({','.join(map(str, self.mods))})" if self.mods else ""
        return f"{self.base}{mods}{'[]' if self.array else ''}"


def type_sig(type_name: Any) -> TypeSig:
    """The signature of a pglast ``TypeName``; unknown typmod expressions are dropped."""
    names = [n.sval for n in type_name.names if n.sval != "pg_catalog"]
    base = _ALIASES.get(names[-1], names[-1]) if names else "?"
    if len(names) > 1:
        base = ".".join(names)
    mods = tuple(
        m.val.ival
        for m in type_name.typmods or ()
        if type(m).__name__ == "A_Const" and type(m.val).__name__ == "Integer"
    )
    return TypeSig(base, mods, bool(type_name.arrayBounds))


def rewrites(old: TypeSig | None, new: TypeSig, *, using: bool) -> bool | None:
    """Whether changing a column from ``old`` to ``new`` rewrites the table; None: cannot tell
    (the old type is unknown and the new one is of a kind that can be a cheap widening)."""
    if using:
        return True
    if old is None:
        return None if new.base in _WIDENS | _TEXTUAL | {"inet", "varbit"} else True
    if old == new:
        return False
    if old.array or new.array:
        return True
    if new.base == "text" or (new.base == "varchar" and not new.mods):
        return old.base not in _TEXTUAL
    if old.base == "cidr" and new.base == "inet":
        return False
    if old.base != new.base or old.base not in _WIDENS:
        return True
    return not _wider(old.mods, new.mods, old.base)


def _wider(old: tuple[int, ...], new: tuple[int, ...], base: str) -> bool:
    if not new:
        return True  # the unconstrained type holds every value of any constrained one
    if not old:
        return False
    if base == "numeric":
        old_scale = old[1] if len(old) > 1 else 0
        new_scale = new[1] if len(new) > 1 else 0
        return new_scale == old_scale and new[0] >= old[0]
    return new[0] >= old[0]


# Functions a default may call without forcing a rewrite of existing rows: PostgreSQL
# evaluates a non-volatile default once and stores it (11+); a volatile one per row.
STABLE_FUNCTIONS = frozenset(
    {
        "now",
        "transaction_timestamp",
        "statement_timestamp",
        "current_date",
        "current_timestamp",
        "localtimestamp",
        "current_setting",
        "lower",
        "upper",
        "coalesce",
        "make_interval",
        "to_timestamp",
        "to_jsonb",
        "jsonb_build_object",
        "json_build_object",
        "jsonb_build_array",
        "array",
        "timezone",
        "date_trunc",
        "concat",
        "length",
        "md5",
    }
)
VOLATILE_FUNCTIONS = frozenset(
    {
        "random",
        "random_normal",
        "gen_random_uuid",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "uuidv4",
        "uuidv7",
        "clock_timestamp",
        "timeofday",
        "nextval",
        "txid_current",
        "pg_current_xact_id",
    }
)
SERIAL_TYPES = frozenset({"serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"})


def volatile_call(expr: Any, declared: dict[str, str]) -> str | None:
    """The name of the first function in ``expr`` that is (or may be) volatile, or None.

    ``declared`` holds the volatility of the functions the migration set creates. Known-
    volatile built-ins and functions sqlmig does not know are reported: a function is
    VOLATILE unless declared otherwise.
    """
    kind = type(expr).__name__
    if kind == "FuncCall":
        name = str(expr.funcname[-1].sval).lower()
        if name not in STABLE_FUNCTIONS and declared.get(name, "volatile") == "volatile":
            return name
        return next(filter(None, (volatile_call(a, declared) for a in expr.args or ())), None)
    for child in _children(expr, kind):
        found = volatile_call(child, declared)
        if found:
            return found
    return None


def _children(expr: Any, kind: str) -> list[Any]:
    if kind == "TypeCast":
        return [expr.arg]
    if kind == "A_Expr":
        return [e for e in (expr.lexpr, expr.rexpr) if e is not None and not isinstance(e, tuple)]
    if kind in ("A_ArrayExpr", "BoolExpr", "CoalesceExpr", "MinMaxExpr"):
        items = getattr(expr, "elements", None) or getattr(expr, "args", None) or ()
        return list(items)
    return []  # constants, CURRENT_TIMESTAMP and the like (SQLValueFunction): not volatile
