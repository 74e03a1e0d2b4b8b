"""Reading the migration folder: every malformed set is reported whole, before any database."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlmig.discovery import checksum, has_statements, load_migrations, new_migration, normalise
from sqlmig.errors import ConfigError, ValidationError
from sqlmig.models import Irreversible, SqlFile


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(ValidationError) as info:
        load_migrations(folder)
    return [str(p) for p in info.value.problems]


def test_orders_numerically_not_as_text(write_migration):
    folder = write_migration(10, "ten", "SELECT 10;")
    write_migration(9, "nine", "SELECT 9;")
    write_migration(100, "hundred", "SELECT 100;")
    assert [m.version for m in load_migrations(folder)] == [9, 10, 100]


def test_every_problem_is_reported_at_once(write_migration):
    folder = write_migration(1, "ok", "SELECT 1;")
    (folder / "up" / "0002_lonely_up.sql").write_text("SELECT 2;")
    (folder / "down" / "0003_lonely_down.sql").write_text("SELECT 3;")
    write_migration(4, "first", "SELECT 4;")
    write_migration(4, "second", "SELECT 4;")
    (folder / "up" / "notes.txt").write_text("hello")
    (folder / "up" / "0005_bad.sql").write_bytes(b"SELECT 1;\n-- caf\xe9\n")
    (folder / "down" / "0005_bad.sql").write_text("SELECT 1;")
    found = problems_of(folder)
    text = "\n".join(found)
    assert "0002_lonely_up.sql: up file has no down file" in text
    assert "0003_lonely_down.sql: down file has no up file" in text
    assert "version 4 is used by more than one file" in text
    assert "0004_first.sql" in text and "0004_second.sql" in text
    assert "notes.txt: name does not follow" in text
    assert "0005_bad.sql: not valid UTF-8 (byte 16, line 2)" in text
    assert len(found) == 5


def test_up_and_down_names_must_match(write_migration):
    folder = write_migration(1, "a", "SELECT 1;")
    (folder / "down" / "0001_a.sql").rename(folder / "down" / "0001_b.sql")
    assert any(
        "up and down names differ: 0001_a.sql vs 0001_b.sql" in p for p in problems_of(folder)
    )


def test_missing_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_migrations(tmp_path / "nope")


def test_hidden_files_are_ignored(write_migration):
    folder = write_migration(1, "a", "SELECT 1;")
    (folder / "up" / ".gitkeep").write_text("")
    assert len(load_migrations(folder)) == 1


def test_checksum_is_the_same_for_crlf_cr_lf_and_bom():
    lf = normalise(b"CREATE TABLE t (a int);\nSELECT 1;\n")
    assert normalise(b"\xef\xbb\xbfCREATE TABLE t (a int);\r\nSELECT 1;\r\n") == lf
    assert normalise(b"CREATE TABLE t (a int);\rSELECT 1;\r") == lf
    assert checksum(lf) == checksum(
        normalise(b"\xef\xbb\xbfCREATE TABLE t (a int);\r\nSELECT 1;\r\n")
    )
    assert checksum(lf) != checksum(normalise(b"CREATE TABLE t (a int);\nSELECT 2;\n"))


def test_a_file_read_has_the_checksum_of_its_normalised_text(write_migration):
    folder = write_migration(1, "a", "SELECT 1;")
    lf = "CREATE TABLE café (a int);\nSELECT 1;\n".encode()
    for raw in (lf, lf.replace(b"\n", b"\r\n"), lf.replace(b"\n", b"\r"), b"\xef\xbb\xbf" + lf):
        (folder / "up" / "0001_a.sql").write_bytes(raw)
        (m,) = load_migrations(folder)
        assert m.up.checksum == checksum(normalise(raw)) == checksum(lf.decode())


@pytest.mark.skipif(not Path("/proc/version").is_file(), reason="needs Linux's /proc")
def test_a_file_is_read_to_its_end_past_the_size_it_had(write_migration):
    # A /proc file says it has 0 bytes and holds more: read as one that grew since fstat.
    folder = write_migration(1, "a", "SELECT 1;")
    (folder / "up" / "0001_a.sql").unlink()
    (folder / "up" / "0001_a.sql").symlink_to("/proc/version")
    (m,) = load_migrations(folder)
    assert m.up.text == Path("/proc/version").read_text() and len(m.up.text) > 1


@pytest.mark.parametrize("seed", range(4))
def test_the_word_pre_check_finds_what_a_word_regex_finds(seed):
    import random
    import re

    from sqlmig.discovery import _MAYBE_OUTSIDE, _has_word

    oracle = re.compile(r"\b(?:" + "|".join(_MAYBE_OUTSIDE) + r")\b")
    rng = random.Random(seed)
    pieces = [*_MAYBE_OUTSIDE, "VALUES", "APPEND", "x", "_", "9", "é", "ß", " ", ";", "(", "\n"]
    found = 0
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6))).upper()
        expected = oracle.search(text) is not None
        assert _has_word(text, _MAYBE_OUTSIDE) is expected, text
        found += expected
    assert 500 < found < 2500  # both answers were asked for, many times


def test_directives(write_migration):
    folder = write_migration(
        1,
        "idx",
        "-- sqlmig: no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);",
        "-- why this exists\n-- sqlmig: irreversible data is deleted for good\nSELECT 1;",
    )
    (m,) = load_migrations(folder)
    assert m.up.no_transaction and not m.down.no_transaction
    assert m.down.irreversible == Irreversible("data is deleted for good")
    assert m.up.irreversible is None


def test_directive_below_the_first_statement_is_plain_comment(write_migration):
    folder = write_migration(1, "a", "SELECT 1;\n-- sqlmig: no-transaction\n")
    assert not load_migrations(folder)[0].up.no_transaction


def test_misspelt_directive_is_an_error(write_migration):
    folder = write_migration(1, "a", "-- sqlmig: no-transacton\nSELECT 1;")
    assert any("unknown directive 'no-transacton'" in p for p in problems_of(folder))


def test_allow_is_a_known_directive_in_the_header(write_migration):
    folder = write_migration(
        1,
        "a",
        "-- sqlmig: allow drop-table nobody reads it\nDROP TABLE old;",
        "-- sqlmig: alow x y\n",
    )
    assert problems_of(folder) == [
        f"{folder / 'down' / '0001_a.sql'}: line 1: unknown directive 'alow x y' "
        "(known: no-transaction, irreversible, allow, empty)"
    ]


def test_irreversible_in_up_file_is_an_error(write_migration):
    folder = write_migration(1, "a", "-- sqlmig: irreversible\nSELECT 1;")
    assert any("belongs in the down file" in p for p in problems_of(folder))


def test_new_writes_the_next_pair(tmp_path, write_migration):
    folder = write_migration(7, "seven", "SELECT 7;")
    up, down = new_migration(folder, "add users index")
    assert up == folder / "up" / "0008_add_users_index.sql"
    assert down == folder / "down" / "0008_add_users_index.sql"
    assert up.read_text().startswith("-- 0008_add_users_index.sql (up)")
    # Unedited, the up file does nothing: refused until it is written (its down may stay empty).
    with pytest.raises(ValidationError) as info:
        load_migrations(folder)
    assert [p.path for p in info.value.problems] == [up]
    up.write_text(up.read_text() + "CREATE INDEX users_email ON users (email);\n")
    assert [m.version for m in load_migrations(folder)] == [7, 8]
    first, _ = new_migration(tmp_path / "fresh", "init")
    assert first.name == "0001_init.sql"


@pytest.mark.parametrize("name", ["../escape", "a/b", "", "bad:name", "x" * 101, "-leading"])
def test_new_refuses_unusable_names(tmp_path, name):
    with pytest.raises(ConfigError, match="not a usable migration name"):
        new_migration(tmp_path, name)
    assert not (tmp_path / "up").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", False),
        ("\n\n", False),
        ("-- 0001_a.sql (up)\n-- a comment only\n", False),
        ("/* a block\n   comment */\n", False),
        ("-- a\n;\n ; \n", False),
        (";  -- b\n", False),
        ("/* outer /* nested */ still a comment */\n", False),  # PostgreSQL nests them
        ("SELECT 1", True),
        ("-- header\nCREATE TABLE t (a int);\n", True),
        ("CREATE TABLE t (a int); -- trailing comment\n", True),
        ("/* why */ UPDATE t SET a = 1;\n", True),
        ("INSERT INTO t VALUES ('\n-- not a comment\n');\n", True),
    ],
)
def test_has_statements(text, expected):
    assert has_statements(SqlFile(Path("x.sql"), text, ""), "postgres") is expected
    assert split_says(text) is expected  # the fast path agrees with the splitter


def split_says(text: str) -> bool:
    from sqlmig.splitter import split

    return bool(split(text, "postgres"))


def test_an_empty_up_file_needs_a_reason_and_an_empty_down_file_is_fine(write_migration):
    folder = write_migration(1, "a", "-- just a header\n", "-- nothing to undo\n")
    assert problems_of(folder) == [
        f"{folder / 'up' / '0001_a.sql'}: has no statements, so applying it would change "
        "nothing yet record it as applied: write the migration, or if it is meant to do "
        "nothing say why with '-- sqlmig: empty <reason>' in its header"
    ]
    write_migration(1, "a", "-- sqlmig: empty 0002 replaced what this did\n", "")
    (m,) = load_migrations(folder)
    assert m.up.empty == "0002 replaced what this did" and m.down.empty is None
    write_migration(2, "b", "-- sqlmig: empty\n", "-- sqlmig: empty but\nSELECT 1;\n")
    assert problems_of(folder) == [
        f"{folder / 'up' / '0002_b.sql'}: '-- sqlmig: empty <reason>' needs the reason the "
        "file does nothing",
        f"{folder / 'down' / '0002_b.sql'}: has statements but says '-- sqlmig: empty "
        "<reason>': remove the directive",
    ]


def test_a_streamed_file_is_judged_empty_or_not_from_its_statements(write_migration, monkeypatch):
    from sqlmig import sqlstream

    monkeypatch.setattr(sqlstream, "INLINE_LIMIT", 1024)  # these files are streamed
    comments = "".join(f"-- line {i} of a long comment\n" for i in range(100))
    folder = write_migration(1, "a", comments, comments)
    (problem,) = problems_of(folder)
    assert "0001_a.sql: has no statements" in problem and "/up/" in problem
    write_migration(1, "a", comments + "CREATE TABLE t (a int);\n", comments)
    (m,) = load_migrations(folder)
    assert m.up.streamed and m.up.text == ""
    write_migration(
        1,
        "a",
        comments + "CREATE TABLE t (a int);\n",
        "-- sqlmig: empty x\n" + comments + "SELECT 1;\n",
    )
    assert problems_of(folder) == [
        f"{folder / 'down' / '0001_a.sql'}: has statements but says '-- sqlmig: empty "
        "<reason>': remove the directive"
    ]


def test_a_file_that_cannot_be_read_is_a_problem_named_not_a_traceback(write_migration):
    folder = write_migration(1, "a", "CREATE TABLE a (x int);", "DROP TABLE a;")
    (folder / "down" / "0002_b.sql").write_text("DROP TABLE b;\n")
    # Reading /proc/self/mem at offset 0 fails (EIO) even for root, as CI runs.
    (folder / "up" / "0002_b.sql").symlink_to("/proc/self/mem")
    with pytest.raises(ValidationError) as info:
        load_migrations(folder)
    assert [(p.path.name if p.path else None, p.message) for p in info.value.problems] == [
        ("0002_b.sql", "cannot be read: Input/output error")
    ]
