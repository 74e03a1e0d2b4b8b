"""What a database's schema is, read from its catalogs, and how two of them differ.

A schema is a flat mapping from an object's readable name ("column accounts.email",
'policy profiles."Users see own profile"') to its attributes as the database itself
formats them, so that formatting alone is never drift.
"""

from __future__ import annotations

from collections.abc import Iterable

Schema = dict[str, dict[str, str]]


class Item(str):
    """One finding of a check: the line people read, and what JSON shows of it besides,
    its ``kind``, the ``object`` it is about (None: the check as a whole) and ``detail``,
    what about that object. A str, so every reader of the lines reads it unchanged."""

    kind: str
    object: str | None
    detail: str

    def __new__(cls, text: str, kind: str, object: str | None = None, detail: str = "") -> Item:
        item = super().__new__(cls, text)
        item.kind, item.object, item.detail = kind, object, detail or text
        return item

    def said(self, text: str, kind: str | None = None, detail: str | None = None) -> Item:
        """This finding told in other words (what it means for a round trip, say)."""
        return Item(text, kind or self.kind, self.object, self.detail if detail is None else detail)


class Findings(list[str]):
    """The differences or problems a check found, and notes on how it found them (a role
    it had to make, grants it compared as text) that are neither."""

    def __init__(self, found: Iterable[str] = (), notes: list[str] | None = None) -> None:
        super().__init__(found)
        self.notes = notes if notes is not None else []


class Baseline:
    """schema.sql's model, as a scratch load built it, and the notes on how."""

    def __init__(self, schema: Schema, notes: list[str], kept: list[str] | None = None) -> None:
        self.schema = schema
        # Shared with the scratch database while it exists: its removal may add one.
        self.notes = notes
        # Those that say how the model compares, not what building it did (a role made):
        # what a cached model is told with.
        self.kept = list(notes) if kept is None else kept

    def drift(self, live: Schema, live_name: str, base_name: str) -> Findings:
        return Findings(compare(live, self.schema, live_name, base_name), self.notes)


# Starts each line of a dump that names an object it could not write.
LEFT_OUT = "-- not dumped, add by hand: "


def dump_header(source: str) -> str:
    """The first lines of every ``sqlmig dump``: no date or database name, so the same
    schema always gives the same bytes."""
    return (
        f"-- The schema as `sqlmig dump` reads it from {source}. Change it with a migration,\n"
        "-- then dump again: `sqlmig diff` compares a database with this file.\n"
    )


_SHOWN = 60  # longer values (function bodies, view queries) are shown around the change


def compare(
    live: Schema, base: Schema, live_name: str = "database", base_name: str = "schema.sql"
) -> list[Item]:
    """One readable line per difference, in a stable order; [] when they match.

    A SQLite table's definition repeats its columns, so a changed column also shows as
    a changed definition: said anyway, since the definition also holds what nothing
    finer does (CHECK, STRICT, WITHOUT ROWID).
    """
    if live == base:  # the usual answer, in one pass in C: a third of the loops' time
        return []
    lines = []
    for key in sorted(live.keys() ^ base.keys()):
        if key in live:
            detail = f"in {live_name}, not in {base_name}"
            lines.append(Item(f"{key}: {detail}", "unexpected", key, detail))
        else:
            detail = f"missing in {live_name}"
            lines.append(Item(f"{key} {detail}", "missing", key, detail))
    # Nearly everything is equal: one dict comparison each finds the few that are not.
    for key in sorted(k for k in live.keys() & base.keys() if live[k] != base[k]):
        for attr in sorted(live[key].keys() | base[key].keys()):
            a, b = live[key].get(attr), base[key].get(attr)
            if a != b:
                detail = f"{attr} {_show(a, b)} in {live_name}, {_show(b, a)} in {base_name}"
                lines.append(Item(f"{key}: {detail}", "changed", key, detail))
    return sorted(lines)


def _show(value: str | None, other: str | None) -> str:
    """``value`` on one line, cut around where it differs from ``other`` when long."""
    if value is None:
        return "(none)"
    flat, other_flat = " ".join(value.split()), " ".join((other or "").split())
    if flat == other_flat:  # they differ in layout only: show it
        flat, other_flat = value.replace("\n", "\\n"), (other or "").replace("\n", "\\n")
    if len(flat) <= _SHOWN:
        return flat
    at = next(
        (i for i, (x, y) in enumerate(zip(flat, other_flat, strict=False)) if x != y),
        min(len(flat), len(other_flat)),  # one is the other plus more: the difference is the rest
    )
    start = max(0, min(at - 20, len(flat) - _SHOWN))
    return (
        ("..." if start else "")
        + flat[start : start + _SHOWN]
        + ("..." if start + _SHOWN < len(flat) else "")
    )
