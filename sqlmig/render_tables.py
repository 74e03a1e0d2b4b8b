"""The history and the backups, as aligned columns (render.columns)."""

from __future__ import annotations

from pathlib import Path

from sqlmig.models import BackupInfo, EventKind, HistoryEvent
from sqlmig.render import columns


def history_table(events: list[HistoryEvent]) -> None:
    rows = [history_cells(ev) for ev in events]
    styles = ["green" if ev.success else "red" for ev in events]
    columns(
        "sqlmig history (newest first)", HISTORY_HEADER, rows, styles, state_column=1, right={2, 4}
    )


HISTORY_HEADER = ("at (UTC)", "event", "version", "name", "took", "by", "result")


def history_cells(ev: HistoryEvent) -> tuple[str, ...]:
    return (
        ev.at[:19].replace("T", " "),
        ev.event + (f" ({ev.direction})" if ev.direction and ev.event is EventKind.FAIL else ""),
        "" if ev.version is None else str(ev.version),
        ev.name,
        f"{ev.duration_ms} ms",
        ev.applied_by,
        ev.detail or "ok" if ev.success else (ev.error or "failed").splitlines()[0],
    )


def backups_table(found: list[BackupInfo], folder: Path) -> None:
    header = ("file", "database", "version", "taken at (UTC)", "size")
    rows = [
        (b.path.name, b.database, str(b.version), b.taken_at[:19].replace("T", " "), f"{b.size:,}")
        for b in found
    ]
    title = f"backups in {folder} (newest first)" if found else f"no backups in {folder}"
    columns(title, header, rows, ["green"] * len(rows), state_column=0, right={2, 4})
