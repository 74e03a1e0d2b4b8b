"""Metrics in Prometheus's text exposition format."""

from __future__ import annotations

from collections.abc import Callable

from sqlmig.models import Metrics


def prometheus(m: Metrics) -> str:
    """The text exposition format, one HELP and TYPE line per metric."""
    return prometheus_text([({"database": m.database}, m)])


def prometheus_text(labelled: list[tuple[dict[str, str], Metrics]]) -> str:
    """Each metric once, with a series for each (labels, values) pair."""
    lines = []
    for name, kind, help_text, value in _SERIES:
        found = [(labels, value(m)) for labels, m in labelled if value(m) is not None]
        if not found:
            continue  # no run yet: an absent series, not a misleading zero
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for labels, number in found:
            text = str(number) if isinstance(number, int) else f"{number:.3f}"
            shown = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{shown}}} {text}")
    return "\n".join(lines) + "\n" if lines else ""


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


_SERIES: list[tuple[str, str, str, Callable[[Metrics], float | None]]] = [
    (
        "sqlmig_migrations_applied_total",
        "counter",
        "Migrations applied, all time.",
        lambda m: m.applied,
    ),
    (
        "sqlmig_migrations_rolled_back_total",
        "counter",
        "Migrations rolled back, all time.",
        lambda m: m.rolled_back,
    ),
    (
        "sqlmig_migrations_failed_total",
        "counter",
        "Failed migration attempts, all time.",
        lambda m: m.failed,
    ),
    (
        "sqlmig_seeds_failed_total",
        "counter",
        "Failed seed file runs, all time.",
        lambda m: m.seeds_failed,
    ),
    (
        "sqlmig_current_version",
        "gauge",
        "Newest applied version (0 when none).",
        lambda m: m.current_version or 0,
    ),
    (
        "sqlmig_pending_migrations",
        "gauge",
        "Migrations in the folder not yet applied.",
        lambda m: m.pending,
    ),
    (
        "sqlmig_dirty_migrations",
        "gauge",
        "Versions left dirty by a failed no-transaction migration (sqlmig status names them).",
        lambda m: m.dirty,
    ),
    (
        "sqlmig_last_run_success",
        "gauge",
        "1 if every migration and seed of the newest run succeeded, else 0.",
        lambda m: None if m.last_run_success is None else int(m.last_run_success),
    ),
    (
        "sqlmig_last_run_duration_seconds",
        "gauge",
        "The newest run, from the start of its first migration or seed to the end of its last.",
        lambda m: m.last_run_seconds,
    ),
    (
        "sqlmig_last_run_timestamp_seconds",
        "gauge",
        "Unix time the newest run's last migration or seed ended.",
        lambda m: m.last_run_at,
    ),
]
