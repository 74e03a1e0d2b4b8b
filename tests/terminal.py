"""Run `sqlmig` with a pseudo-terminal as its stdin, stdout and stderr: what a person at
a terminal sees, and how it answers a question."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path


def on_terminal(
    *args: str, cwd: Path, answer: str | None = None, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run `sqlmig ARGS` on a terminal; type ``answer`` (and Enter) once a [y/N] question
    shows. Return the exit code and everything the terminal showed."""
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    full_env.update({"COLUMNS": "200", "TERM": "dumb", **(env or {})})
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqlmig", *args],
        cwd=cwd,
        env=full_env,
        stdin=child,
        stdout=child,
        stderr=child,
        close_fds=True,
    )
    os.close(child)
    shown, answered, deadline = b"", False, time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(main, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            if answer is not None and not answered and b"[y/N]" in shown:
                os.write(main, answer.encode() + b"\n")
                answered = True
            if not ready and proc.poll() is not None:
                break
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
    return code, shown.decode(errors="replace").replace("\r\n", "\n")
