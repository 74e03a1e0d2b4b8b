"""False positives found by linting real migration sets (bench/lint_corpus.py), each
reproduced in a small set of its own, next to the case that must still fire."""

from __future__ import annotations

import importlib.util
import sys

from tests.conftest import REPO
from tests.lint_helpers import PG_BASE, lint, rules, where

NOT_NULL_BASE = """
CREATE TABLE c (id int PRIMARY KEY, actor text NOT NULL DEFAULT 'x', inbox text, shared text);
"""


def test_set_not_null_on_a_column_already_not_null_is_silent(tmp_path):
    # PostgreSQL leaves a column already marked NOT NULL alone: no scan (ALTER TABLE's
    # SET NOT NULL only checks rows when it marks the column).
    files = [NOT_NULL_BASE, "ALTER TABLE c ALTER COLUMN actor SET NOT NULL;"]
    assert lint(tmp_path / "a", files) == []
    # Marked by an earlier migration's SET NOT NULL, or by the primary key.
    files = [
        NOT_NULL_BASE,
        "ALTER TABLE c ALTER COLUMN inbox SET NOT NULL;",
        "ALTER TABLE c ALTER COLUMN inbox SET NOT NULL, ALTER COLUMN id SET NOT NULL;",
    ]
    assert where(lint(tmp_path / "b", files)) == [("up/0002_m2.sql", 1, "set-not-null")]


def test_not_null_follows_a_column_rename_into_the_down_file(tmp_path):
    # lemmy's 0244: the up file sets shared NOT NULL and renames it to inbox; the down
    # file's SET NOT NULL of inbox changes nothing.
    up = (
        "ALTER TABLE c DROP COLUMN inbox, ALTER COLUMN shared SET NOT NULL;\n"
        "ALTER TABLE c RENAME COLUMN shared TO inbox;"
    )
    down = "ALTER TABLE c ADD COLUMN shared text, ALTER COLUMN inbox SET NOT NULL;"
    found = lint(tmp_path / "sql", [NOT_NULL_BASE, (up, down)])
    assert where(found) == [  # the drop is a copy-and-swap: inbox keeps its name
        ("up/0002_m2.sql", 1, "set-not-null"),
        ("up/0002_m2.sql", 2, "rename-column"),
    ]


def test_set_not_null_fires_again_once_not_null_is_dropped(tmp_path):
    files = [
        NOT_NULL_BASE,
        "ALTER TABLE c ALTER COLUMN actor DROP NOT NULL;",
        "ALTER TABLE c ALTER COLUMN actor SET NOT NULL;",
        "ALTER TABLE c DROP COLUMN actor;\nALTER TABLE c ADD COLUMN actor text;",
        "ALTER TABLE c ALTER COLUMN actor SET NOT NULL;",
    ]
    found = [(f.path.name, f.rule) for f in lint(tmp_path / "sql", files)]
    assert found == [
        ("0003_m3.sql", "set-not-null"),
        ("0004_m4.sql", "drop-column"),
        ("0005_m5.sql", "set-not-null"),
    ]


def test_dropping_the_old_copy_of_a_rebuilt_table_is_part_of_the_rebuild(tmp_path):
    # lemmy's 0282 down: rename the table away, create it again, copy, drop the old copy.
    # The rename is reported as table-rebuild; the drop loses no data anyone reads.
    rebuild = (
        "ALTER TABLE k RENAME TO k_old;\n"
        "CREATE TABLE k (a bigint, b int);\n"
        "INSERT INTO k SELECT a, b FROM k_old;\n"
        "DROP TABLE k_old;"
    )
    assert rules(lint(tmp_path / "a", [PG_BASE, rebuild])) == ["table-rebuild"]
    # Renamed away with nothing created in its place, the drop does destroy the data.
    gone = "ALTER TABLE k RENAME TO k_old;\nDROP TABLE k_old;"
    assert rules(lint(tmp_path / "b", [PG_BASE, gone])) == ["rename-table", "drop-table"]


def _corpus():  # bench/ is not a package: load the converter as the benchmark runs it
    spec = importlib.util.spec_from_file_location("lint_corpus", REPO / "bench" / "lint_corpus.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("lint_corpus", module)
    spec.loader.exec_module(module)
    return module


def test_corpus_converter_keeps_a_files_own_transactions():
    corpus = _corpus()
    # One outer BEGIN/COMMIT is the tool's wrapper: sqlmig supplies it.
    wrapped = "BEGIN;\nALTER TABLE t ADD c int;\nCOMMIT;\n"
    assert "BEGIN" not in corpus.unwrap(wrapped) and not corpus.own_transactions(
        corpus.unwrap(wrapped)
    )
    # ente's 0036: two transactions of its own; unwrapping the first BEGIN and the last
    # COMMIT left "COMMIT; BEGIN;" in the middle of a transactional file.
    two = "BEGIN;\nUPDATE t SET c = 1;\nCOMMIT;\nBEGIN;\nUPDATE t SET c = 2;\nCOMMIT;\n"
    assert corpus.unwrap(two) == two and corpus.own_transactions(two)
    # ente's 0025: statements outside, then a BEGIN ... COMMIT block.
    part = "ALTER TABLE t ALTER a TYPE bigint;\nBEGIN;\nDROP SEQUENCE s;\nCOMMIT;\n"
    assert corpus.unwrap(part) == part and corpus.own_transactions(part)
