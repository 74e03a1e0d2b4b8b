"""Large files as a stream: the same text, checksum and statements as a whole-file read."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlmig.discovery import checksum, normalise
from sqlmig.splitter import split
from sqlmig.sqlstream import checksum as stream_checksum
from sqlmig.sqlstream import normalised_chunks, split_stream
from tests.test_splitter_golden import PG, SQLITE
from tests.test_splitter_oracle import PG_PIECES, SQLITE_PIECES

CASES = [("postgres", sql) for sql, _ in PG] + [("sqlite", sql) for sql, _ in SQLITE]
CASES += [("postgres", ";\n".join(PG_PIECES)), ("sqlite", ";\n".join(SQLITE_PIECES))]


def pieces(text: str, rng: random.Random, top: int) -> list[str]:
    out, i = [], 0
    while i < len(text):
        n = rng.randint(1, top)
        out.append(text[i : i + n])
        i += n
    return out


@pytest.mark.parametrize(("dialect", "sql"), CASES)
@pytest.mark.parametrize("top", [1, 3, 17, 4096])
def test_a_stream_splits_exactly_as_the_whole_text(dialect, sql, top):
    rng = random.Random(top)
    sql = "-- header\n\n" + sql + "\n/* tail */\n"
    assert list(split_stream(pieces(sql, rng, top), dialect)) == split(sql, dialect)


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from(
            [
                "SELECT 1",
                "'a;b'",
                '"x;y"',
                "-- c;\n",
                "/* d; */",
                "$q$ ; $q$",
                "\n",
                ";",
                " ",
                "CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END",
                "BEGIN ATOMIC",
                "END",
                "(",
                ")",
                "[z;]",
                "`w;`",
                "E'\\';'",
                "CREATE FUNCTION f() AS $$ ; $$",
            ]
        ),
        max_size=40,
    ),
    dialect=st.sampled_from(["postgres", "sqlite"]),
    seed=st.integers(0, 1000),
)
def test_any_text_splits_the_same_streamed(parts, dialect, seed):
    sql = "".join(parts)
    rng = random.Random(seed)
    assert list(split_stream(pieces(sql, rng, 7), dialect)) == split(sql, dialect)


def test_normalised_chunks_and_checksum_match_a_whole_read(tmp_path):
    raw = ("\ufeff" + "SELECT 'ü';\r\n" * 3000 + "SELECT 2;\r" * 2000 + "end\r").encode()
    path = tmp_path / "f.sql"
    path.write_bytes(raw)
    for chunk in (1, 2, 3, 5, 7, 1000, 1 << 20):  # a CRLF, an ü or the BOM cut in two
        assert "".join(normalised_chunks(path, chunk)) == normalise(raw)
    assert stream_checksum(path) == checksum(normalise(raw))


def test_a_bad_byte_is_reported_where_a_whole_read_reports_it(tmp_path):
    raw = b"SELECT 1;\n" * 100 + b"SELECT '\xff';\n"
    path = tmp_path / "f.sql"
    path.write_bytes(raw)
    with pytest.raises(UnicodeDecodeError) as whole:
        raw.decode("utf-8")
    with pytest.raises(UnicodeDecodeError) as streamed:
        list(normalised_chunks(path, 7))
    assert streamed.value.start == whole.value.start


@pytest.fixture
def small_limits(monkeypatch):
    """Stream every file over 1 KB, in pieces of 100 characters: the large-file path on
    files a test can afford."""
    from sqlmig import sqlstream

    monkeypatch.setattr(sqlstream, "INLINE_LIMIT", 1024)
    monkeypatch.setattr(sqlstream, "CHUNK", 100)


def big(rows: int, bad_at: int | None = None) -> str:
    lines = [
        "-- sqlmig: irreversible the rows are the point",
        "CREATE TABLE big (id int PRIMARY KEY, note text);",
    ]
    for i in range(rows):
        value = "(2, 'again')" if i == bad_at else f"({i + 2}, 'row {i}; with a semicolon')"
        lines.append(f"INSERT INTO big VALUES {value};")
    return "\n".join(lines) + "\n"


def test_a_streamed_migration_applies_reports_and_reads_back_like_any(
    db_url, write_migration, small_limits
):
    from sqlmig import Migrator
    from sqlmig.discovery import load_migrations
    from tests.helpers import query

    folder = write_migration(
        1,
        "big",
        big(300).replace("-- sqlmig: irreversible the rows are the point\n", ""),
        "DROP TABLE big;",
    )
    (m,) = load_migrations(folder)
    assert m.up.streamed and m.up.text == "" and not m.down.streamed
    assert m.up.checksum == checksum(m.up.full_text())
    with Migrator(db_url, folder) as mig:
        (step,) = mig.apply(backup=False).steps
        assert step.statements == 301
        assert [e.state.value for e in mig.status().entries] == ["applied"]
    assert query(db_url, "SELECT count(*) FROM big") == [(300,)]


def test_a_failure_deep_in_a_streamed_file_names_its_line(db_url, write_migration, small_limits):
    from sqlmig import Migrator, StatementError

    folder = write_migration(1, "big", big(300, bad_at=250).split("\n", 1)[1], "DROP TABLE big;")
    with Migrator(db_url, folder) as mig, pytest.raises(StatementError) as info:
        mig.apply(backup=False)
    assert info.value.line == 1 + 1 + 250 and "'again'" in info.value.statement
