"""Start one measured process and report its wall time, peak RSS and exit code.

    python -S -I bench/launch.py REPORT_FILE PROGRAM ARGS...

Why a launcher: Linux counts in a process's ru_maxrss the memory of whoever started it,
as it was at exec time, so a child of the bench itself (tens of MB, hundreds while it
generates files) would inherit that figure. Started from this small process (~9 MB,
below any Python process's own peak), the child's ru_maxrss is its own. It imports
nothing beyond os, sys and time, and writes "SECONDS RSS_KB EXIT_CODE" to REPORT_FILE.
"""

import os
import sys
import time


def main() -> None:
    report, *argv = sys.argv[1:]
    start = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    with open(report, "w") as f:
        f.write(f"{seconds!r} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}\n")


main()
