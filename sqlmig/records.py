"""The rows sqlmig writes about itself: who ran what, when, in which run.

One RunContext serves a whole invocation (migrations and seeds alike), so every event
of that invocation carries the same run id.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

from sqlmig._version import __version__
from sqlmig.models import (
    AppliedRow,
    Direction,
    EventKind,
    HistoryEvent,
    Migration,
    RowKind,
    RowStatus,
    SqlFile,
    StoredSql,
)
from sqlmig.storedsql import DEFAULT_LIMIT, kept

if TYPE_CHECKING:
    from sqlmig.variables import Bindings

# The events of a file that ran (a migration or a seed): their history rows record the
# variables it used, and a run that has them is what monitoring calls a run.
RAN = (EventKind.APPLY, EventKind.ROLLBACK, EventKind.FAIL, EventKind.SEED)


def new_run_id() -> str:
    return os.urandom(6).hex()


def now_utc() -> str:
    return datetime.now(UTC).isoformat()


def ms_since(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)


@cache
def os_identity() -> str:
    import getpass  # lazily: only runs that write need it

    from sqlmig.tempfiles import hostname

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{hostname()}"


@dataclass(frozen=True, slots=True)
class RunContext:
    """Identity of one sqlmig invocation against one database (a fleet passes one run
    id to every target's), and the values its files' variables take there."""

    db_user: str
    run_id: str = field(default_factory=new_run_id)
    who: str = field(default_factory=os_identity)
    variables: Bindings | None = None
    sql_limit: int = DEFAULT_LIMIT  # bytes: larger files keep only their checksum

    def stored(self, m: Migration) -> StoredSql:
        """The SQL of ``m`` a new version row keeps."""
        return kept(m, self.sql_limit)

    def row(
        self,
        m: Migration,
        status: RowStatus,
        kind: RowKind = RowKind.MIGRATION,
        ms: int | None = None,
    ) -> AppliedRow:
        return AppliedRow(
            version=m.version,
            name=m.name,
            checksum=m.up.checksum,
            down_checksum=m.down.checksum,
            status=status,
            kind=kind,
            applied_at=now_utc(),
            applied_by=self.who,
            db_user=self.db_user,
            execution_ms=ms,
            sqlmig_version=__version__,
        )

    def event(
        self,
        event: EventKind,
        m: Migration | None,
        *,
        name: str = "",
        file: SqlFile | None = None,
        success: bool = True,
        duration_ms: int = 0,
        direction: Direction | None = None,
        error: str | None = None,
        detail: str | None = None,
    ) -> HistoryEvent:
        """A history row for ``m`` (or a seed or backup ``name``); ``file`` (default: the
        up file) gives the checksum."""
        source = file or (m.up if m else None)
        used = None
        if self.variables is not None and source is not None and event in RAN:
            used = self.variables.used(source.text)
        return HistoryEvent(
            event=event,
            version=m.version if m else None,
            name=m.name if m else name,
            checksum=source.checksum if source else None,
            success=success,
            duration_ms=duration_ms,
            direction=direction,
            error=error,
            detail=detail,
            run_id=self.run_id,
            at=now_utc(),
            applied_by=self.who,
            db_user=self.db_user,
            sqlmig_version=__version__,
            variables=used,
        )
