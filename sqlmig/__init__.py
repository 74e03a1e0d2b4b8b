"""sqlmig: plain-SQL schema migrations for PostgreSQL and SQLite.

The library is what the CLI uses; application code can use it the same way::

    from sqlmig import Migrator

    with Migrator("postgresql://app@db/app", "sql") as m:
        m.ensure_current()   # raises VersionMismatch when the database is behind or ahead
"""

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
)

__all__ = [
    "ConfigError",
    "ConnectError",
    "ConnectionLost",
    "Direction",
    "DirtyError",
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
    "ValidationError",
    "VersionMismatch",
    "__version__",
]
