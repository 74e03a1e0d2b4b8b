"""sqlmig: plain-SQL schema migrations for PostgreSQL and SQLite.

The library is what the CLI uses; application code can use it the same way::

    from sqlmig import Migrator

    with Migrator("postgresql://app@db/app", "sql") as m:
        m.ensure_current()   # raises VersionMismatch when the database is behind or ahead
"""

__version__ = "0.1.0"  # before the imports below: they read it

from sqlmig.errors import (
    ConfigError,
    ConnectError,
    DirtyError,
    IrreversibleError,
    LockTimeout,
    SqlmigError,
    StatementError,
    ValidationError,
    VersionMismatch,
)
from sqlmig.migrator import Migrator
from sqlmig.models import Migration, MigrationStatus, State, Status, StepResult

__all__ = [
    "ConfigError",
    "ConnectError",
    "DirtyError",
    "IrreversibleError",
    "LockTimeout",
    "Migration",
    "MigrationStatus",
    "Migrator",
    "SqlmigError",
    "State",
    "StatementError",
    "Status",
    "StepResult",
    "ValidationError",
    "VersionMismatch",
    "__version__",
]
