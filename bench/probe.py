"""sqlmig's side of a library measurement, run as a child process:

    python -m probe apply URL DIR N        # Migrator(URL, DIR).apply(backup=False)
    python -m probe rollback URL DIR N     # Migrator(URL, DIR).rollback(to=0)
    python -m probe backup URL DIR BACKUP_DIR

PYTHONPATH names the tree whose sqlmig is measured (bench/runner.py checks the report
says it came from there). The driver and sqlmig are imported before the clock starts,
as the floor imports its driver before its own: the figure is migrating, not start-up.
N is how many migrations must run: a run that did less would give a flattering figure.
"""

from __future__ import annotations

import json
import sys
import time


def main(argv: list[str]) -> None:
    op, url, folder, arg = argv
    if url.startswith("sqlite:"):
        import sqlite3  # noqa: F401
    else:
        import psycopg  # noqa: F401

    import sqlmig

    start = time.perf_counter()
    with sqlmig.Migrator(url, folder, **({"backup_dir": arg} if op == "backup" else {})) as m:
        if op == "backup":
            m.backup()
            steps = None
        elif op == "apply":
            steps = len(m.apply(backup=False).steps)
        elif op == "rollback":
            # Without the backup a SQLite rollback now takes first, as apply's above; a
            # BASE ref from before rollback took backups has no such option.
            import inspect

            quiet = (
                {"backup": False} if "backup" in inspect.signature(m.rollback).parameters else {}
            )
            steps = len(m.rollback(to=0, **quiet).steps)
        else:
            sys.exit(f"probe: unknown operation {op}")
    seconds = time.perf_counter() - start
    if steps is not None and steps != int(arg):
        sys.exit(f"probe: {op} ran {steps} migration(s), not {arg}")
    print("BENCH " + json.dumps({"seconds": seconds, "sqlmig": sqlmig.__file__}))


if __name__ == "__main__":
    main(sys.argv[1:])
