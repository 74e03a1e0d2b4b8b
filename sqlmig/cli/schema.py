"""Schema commands: diff, dump, test."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from sqlmig.cli._common import Common, Json, ScratchUrl, Targets, command, report

CacheDir = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Folder for the cached model of schema.sql [default: $XDG_CACHE_HOME/sqlmig].",
        show_default=False,
    ),
]
NoCache = Annotated[
    bool,
    typer.Option("--no-cache", help="Load schema.sql in a scratch database, cache or not."),
]


def _cache(cache_dir: Path | None, no_cache: bool) -> dict[str, object]:
    """The cache settings the options give (None: as configured)."""
    return {"cache_dir": cache_dir, "cache": False if no_cache else None}


@contextmanager
def _start_up_set_aside() -> Iterator[None]:
    """A model of 1,000 tables is ~20,000 objects made at once, and each collection they
    set off would walk everything start-up made (typer, psycopg) again: 10% of a whole
    cached `diff`. Those live until exit anyway; the collector leaves them alone meanwhile."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()  # for callers in-process, whose objects are not all start-up's
        # (main() freezes everything at exit: 70-100 ms of a cached `diff` otherwise.)


@command(writes=False, fleet=True)
def diff(
    common: Common,
    targets: Targets,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="Schema file to compare with [default: DIR/schema.sql].",
            show_default=False,
        ),
    ] = None,
    scratch_url: ScratchUrl = None,
    json: Json = False,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
) -> None:
    """Drift check: list every difference between the database and schema.sql (with
    migrations pending, what the applied ones build); exit 1 on any."""
    from sqlmig import documents

    cache = _cache(cache_dir, no_cache)
    if targets.chosen:
        from sqlmig.cli import fleets

        fleets.run(
            common,
            targets,
            lambda f: f.diff(baseline, scratch_url=scratch_url),
            json=json,
            settings=cache,
        )
        return
    with common.migrator(**cache) as m:
        m.engine()  # connected first: the driver's import is start-up too
        with _start_up_set_aside():
            drift = m.diff(baseline, scratch_url=scratch_url)
        database = m.settings.url.masked
    source = drift.compared_with
    report(
        drift,
        document=("diff", documents.drift(drift, database)) if json else None,
        failed="schema drift: {n} difference(s)"
        + ("" if drift.version is None else f" from {source}"),
        ok=f"[green]schema matches {source}[/]",
        notes=drift.notes,
    )


@command(writes=False)
def dump(
    common: Common,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write, or - for standard output [default: DIR/schema.sql].",
            show_default=False,
        ),
    ] = None,
    from_migrations: Annotated[
        bool,
        typer.Option(
            "--from-migrations",
            help="Dump the schema every up file builds in a scratch database, not the "
            "configured database's (which is not touched).",
        ),
    ] = False,
    scratch_url: ScratchUrl = None,
    json: Json = False,
) -> None:
    """Write the database's schema as deterministic SQL (the baseline `diff` compares with)."""
    from sqlmig import documents, render

    with common.migrator() as m:
        where = None if output == "-" else Path(output) if output else m.settings.dir / "schema.sql"
        done = m.dump(where, from_migrations=from_migrations, scratch_url=scratch_url)
        database = m.settings.url.masked
    if json:  # with -o -, the SQL is in the document, which is stdout's one content
        body = documents.dump(done, database, from_migrations=from_migrations, inline=where is None)
        documents.emit("dump", body)
        return
    if where is None:
        typer.echo(done.text, nl=False)
        return
    render.dump_report(done)


@command(writes=False)
def test(
    common: Common,
    scratch_url: ScratchUrl = None,
    json: Json = False,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
) -> None:
    """Round trip in a scratch database: up, down, up for every migration, then schema.sql."""
    from sqlmig import documents

    with _start_up_set_aside(), common.migrator(**_cache(cache_dir, no_cache)) as m:
        trip = m.test_roundtrip(scratch_url=scratch_url)
        database = m.settings.url.masked
    done = f"{trip.migrations - len(trip.irreversible)} migration(s) up, down and up again"
    if trip.irreversible:
        done += f", {len(trip.irreversible)} irreversible one(s) up only"
    done += (
        "; the result matches schema.sql."
        if trip.compared_with_schema_sql
        else "; no schema.sql to compare the result with."
    )
    report(
        trip.problems,
        document=("test", documents.roundtrip(trip, database)) if json else None,
        failed="round trip failed: {n} problem(s)",
        ok=f"[green]round trip ok[/]: {done}",
        notes=trip.notes,
        warnings=trip.warnings,
    )
