"""`make bench` must not rot silently: its quick mode's smallest slice runs here."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO, _admin

BENCH = REPO / "bench"
# "   SQLite, apply    [base|head]   27 ms   15 ms   1.83x   1.2x   20 / 17   1   [+1.2%]";
# in compare mode the label is on the first tree's line only.
ROW = re.compile(
    r"^   (?:(?P<label>SQLite|PostgreSQL), apply)? +(?:(?P<tree>base|head) +)?"
    r"(?P<ours>[\d.]+ m?s) +(?P<ref>[\d.]+ m?s) +(?P<ratio>[\d.]+)x +1\.2x +"
    r"(?P<rss>\d+) / (?P<ref_rss>\d+) +(?P<rounds>\d+)(?: +(?P<change>[+-][\d.]+%))?$",
    re.MULTILINE,
)


def seconds(text: str) -> tuple[float, float]:
    """The range of times a printed "12 ms" or "1.23 s" stands for."""
    value, unit = text.split()
    scale, half = (1000, 0.5) if unit == "ms" else (1, 0.005)
    return (float(value) - half) / scale, (float(value) + half) / scale


def bench(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH / "bench.py"), "--quick", "--only", "today", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SQLMIG_BENCH_COUNT": "5", **env},
        check=False,  # the output is the assertion
    )


def test_quick_slice_measures_sqlmig_and_its_floor_on_both_engines(pg_cluster):
    done = bench(SQLMIG_BENCH_PG_URL=_admin(pg_cluster))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {m["label"]: m for m in ROW.finditer(done.stdout)}
    assert rows.keys() == {"SQLite", "PostgreSQL"}, done.stdout
    for row in rows.values():
        (ours_low, ours_high), (ref_low, ref_high) = seconds(row["ours"]), seconds(row["ref"])
        assert ours_high > 0 and ref_low > 0
        # The ratio is of the unrounded times, so within what the printed ones allow.
        assert ours_low / ref_high - 0.005 <= float(row["ratio"]) <= ours_high / ref_low + 0.005
        # Each a Python process of its own: more than an interpreter, far less than a
        # parent's memory passed on through fork.
        assert 10 < int(row["rss"]) < 100 and 10 < int(row["ref_rss"]) < 100
        assert row["rounds"] == "1"  # quick mode


def test_compare_mode_measures_both_trees_and_removes_its_worktree():
    if subprocess.run(["git", "-C", str(REPO), "rev-parse"], check=False).returncode != 0:
        pytest.skip("not a git checkout: nothing to compare with")
    done = bench("--engines", "sqlite", "--base", "HEAD")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = list(ROW.finditer(done.stdout))
    assert [r["tree"] for r in rows] == ["base", "head"], done.stdout
    assert rows[0]["change"] is None and rows[1]["change"] is not None
    assert "Change of each ratio, head against base" in done.stdout
    worktrees = subprocess.run(
        ["git", "-C", str(REPO), "worktree", "list"], capture_output=True, text=True, check=True
    ).stdout
    assert "sqlmig-bench-" not in worktrees


def test_an_unknown_base_ref_is_refused_by_name():
    done = bench("--engines", "sqlite", "--base", "no-such-ref-anywhere")
    assert done.returncode == 1
    assert "--base no-such-ref-anywhere: no such commit" in done.stderr


def test_peak_rss_is_the_measured_process_own_not_its_parents():
    """Linux passes the memory of whoever starts a process into its ru_maxrss: a bench
    that started its children itself would report them as big as itself."""
    code = (
        "import sys, runner\n"
        "ballast = bytearray(300 * 1024 * 1024)\n"
        "sample, _ = runner.spawn([sys.executable, '-c', 'pass'], runner.child_env(), runner.REPO)\n"
        "print(sample.rss_kb)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(BENCH)},
    )
    assert 5_000 < int(done.stdout) < 60_000


FLEET_ROW = re.compile(
    r"^   (?P<label>(?:SQLite, 3 files|PostgreSQL, 3 tenants), (?:one process|--parallel 4)) +"
    r"(?P<ours>[\d.]+ m?s) +(?P<loop>[\d.]+ m?s) +(?P<ratio>[\d.]+)x",
    re.MULTILINE,
)


def test_the_fleet_rows_time_one_process_against_a_loop_of_them(pg_cluster):
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench.py"), "--quick", "--only", "fleet"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SQLMIG_BENCH_FLEET": "3", "SQLMIG_BENCH_PG_URL": _admin(pg_cluster)},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {m["label"]: m for m in FLEET_ROW.finditer(done.stdout)}
    assert len(rows) == 4, done.stdout
    for row in rows.values():
        assert 0 < float(row["ratio"]) < 1  # one process beats three, even for 3 targets
