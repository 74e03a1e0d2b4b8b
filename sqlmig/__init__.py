"""sqlmig: plain-SQL schema migrations for PostgreSQL and SQLite.

The library is what the CLI uses; application code can use it the same way::

    from sqlmig import Migrator

    with Migrator("postgresql://app@db/app", "sql") as m:
        m.ensure_current()   # raises VersionMismatch when the database is behind or ahead
"""

from typing import TYPE_CHECKING, Any

from sqlmig._version import __version__
from sqlmig.errors import (
    ConfigError,
    ConnectError,
    ConnectionLost,
    DirtyError,
    IrreversibleError,
    LockTimeout,
    SqlmigError,
    StateError,
    StatementError,
    ValidationError,
    VersionMismatch,
)
from sqlmig.migrator import Migrator
from sqlmig.models import (
    Direction,
    Migration,
    MigrationStatus,
    PartialRun,
    RunResult,
    State,
    Status,
    StepResult,
    Target,
)

if TYPE_CHECKING:
    from sqlmig.fleet import Fleet
    from sqlmig.fleet_results import FleetInterrupted, FleetResult, TargetResult

# Imported on first use: a command on one database needs none of them, and the fleet
# modules (concurrent.futures, logging) would cost every command ~10 ms or more.
_LAZY = {
    "Fleet": "sqlmig.fleet",
    "FleetInterrupted": "sqlmig.fleet_results",
    "FleetResult": "sqlmig.fleet_results",
    "TargetResult": "sqlmig.fleet_results",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sqlmig' has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "ConnectError",
    "ConnectionLost",
    "Direction",
    "DirtyError",
    "Fleet",
    "FleetInterrupted",
    "FleetResult",
    "IrreversibleError",
    "LockTimeout",
    "Migration",
    "MigrationStatus",
    "Migrator",
    "PartialRun",
    "RunResult",
    "SqlmigError",
    "State",
    "StateError",
    "StatementError",
    "Status",
    "StepResult",
    "Target",
    "TargetResult",
    "ValidationError",
    "VersionMismatch",
    "__version__",
]
