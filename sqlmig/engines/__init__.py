"""Engine-specific code lives here, behind the small protocol in ``base``."""

from __future__ import annotations

from sqlmig.config import Settings
from sqlmig.engines.base import Engine


def open_engine(settings: Settings, *, write: bool) -> Engine:
    """Connect to the database named by ``settings``; import the driver only when needed."""
    url = settings.url
    engine: Engine
    if url.dialect == "sqlite":
        from sqlmig.engines.sqlite import SqliteEngine

        engine = SqliteEngine(settings)
    else:
        from sqlmig.engines.postgres import PostgresEngine

        engine = PostgresEngine(settings)
    engine.open(write=write)
    return engine
