"""Read a migration folder into validated, immutable Migration values.

Nothing here touches a database: a broken set is reported whole, with file names,
before any connection is opened.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlmig.sqlstream
from sqlmig.errors import ConfigError, Problem, ValidationError
from sqlmig.models import Direction, Irreversible, Migration, SqlFile
from sqlmig.planrules import empty_file_problem
from sqlmig.splitter import Dialect

FILE_RE = re.compile(r"^(\d+)_([A-Za-z0-9][A-Za-z0-9_\-]*)\.sql$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
DIRECTIVE_RE = re.compile(r"^--\s*sqlmig:\s*(.*?)\s*$")
DIRECTIVES = ("no-transaction", "irreversible", "allow", "empty")


def normalise(raw: bytes) -> str:
    """Decode UTF-8, drop a BOM, turn CRLF/CR into LF: one text, so one checksum, per file."""
    text = raw.decode("utf-8")
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _checksum_of(raw: bytes, text: str) -> str:
    """checksum(text), where ``text`` is normalise(raw): without a BOM or a CR (nearly
    every file) the bytes already are the text's UTF-8, and hashing them saves encoding."""
    if b"\r" in raw or raw.startswith(b"\xef\xbb\xbf"):
        return checksum(text)
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class _Directives:
    no_transaction: bool
    irreversible: Irreversible | None
    empty: str | None


_NO_DIRECTIVES = _Directives(no_transaction=False, irreversible=None, empty=None)


def parse_directives(text: str, path: Path, problems: list[Problem]) -> _Directives:
    """Read ``-- sqlmig: ...`` comments in the leading comment block of a file.

    An unknown directive is an error rather than a silent no-op: a misspelt
    ``no-transaction`` would otherwise run CREATE INDEX CONCURRENTLY in a transaction.
    """
    if "sqlmig:" not in text:  # nearly every file: no directive, no line to look at
        return _NO_DIRECTIVES
    no_tx = False
    irreversible: Irreversible | None = None
    empty: str | None = None
    for lineno, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        match = DIRECTIVE_RE.match(stripped)
        if not match:
            continue
        word, _, rest = match.group(1).partition(" ")
        if word == "no-transaction" and not rest:
            no_tx = True
        elif word == "irreversible":
            irreversible = Irreversible(rest.strip())
        elif word == "empty":
            empty = rest.strip()
        elif word == "allow":
            pass  # `sqlmig lint` reads it, and reports a rule id it does not know
        else:
            problems.append(
                Problem(
                    f"line {lineno}: unknown directive '{match.group(1)}' "
                    f"(known: {', '.join(DIRECTIVES)})",
                    path,
                )
            )
    return _Directives(no_tx, irreversible, empty)


def read_sql_file(path: Path, problems: list[Problem]) -> SqlFile | None:
    try:
        raw = _read_inline(path)
        if raw is None:
            return _read_large(path, problems)
    except OSError as exc:
        hint = " (check its permissions)" if isinstance(exc, PermissionError) else ""
        problems.append(Problem(f"cannot be read: {exc.strerror}{hint}", path))
        return None
    try:
        text = normalise(raw)
    except UnicodeDecodeError as exc:
        _not_utf8(path, exc, raw[: exc.start].count(b"\n") + 1, problems)
        return None
    d = parse_directives(text, path, problems)
    digest = _checksum_of(raw, text)
    return SqlFile(path, text, digest, d.no_transaction, d.irreversible, empty=d.empty)


def _read_inline(path: Path) -> bytes | None:
    """The file's bytes; None when it is too large to hold (sqlstream.INLINE_LIMIT)."""
    # One open, its size from the open file, then os.read: pathlib's stat and read_bytes
    # cost a tenth of `sqlmig status` on a thousand files, and open().read() (a buffered
    # file object, a seek) another ~7 ms.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        size = os.fstat(fd).st_size
        if size > sqlmig.sqlstream.INLINE_LIMIT:
            return None
        raw = os.read(fd, size + 1)
        while raw and (more := os.read(fd, 1 << 16)):  # it grew since fstat: on to its end
            raw += more
        return raw
    finally:
        os.close(fd)


def _read_large(path: Path, problems: list[Problem]) -> SqlFile | None:
    """A file too large to hold: hashed as a stream, its header read for directives."""
    try:
        digest = sqlmig.sqlstream.checksum(path)
        head = next(sqlmig.sqlstream.normalised_chunks(path, 64 * 1024), "")
    except UnicodeDecodeError as exc:
        with path.open("rb") as f:
            line = f.read(exc.start).count(b"\n") + 1
        _not_utf8(path, exc, line, problems)
        return None
    d = parse_directives(head, path, problems)
    return SqlFile(path, "", digest, d.no_transaction, d.irreversible, streamed=True, empty=d.empty)


def _not_utf8(path: Path, exc: UnicodeDecodeError, line: int, problems: list[Problem]) -> None:
    problems.append(Problem(f"not valid UTF-8 (byte {exc.start}, line {line})", path))


# A file without any of these words has no statement the transaction check refuses: most
# files are skipped without being split. Each word is found with str.find in the
# upper-cased text, its ends checked by hand: a regex search of the alternation costs
# twice as much, and it runs on every file of every command.
_MAYBE_OUTSIDE = (
    *("BEGIN", "START", "COMMIT", "END", "ABORT", "ROLLBACK", "PREPARE", "CONCURRENTLY"),
    *("VACUUM", "DATABASE", "TABLESPACE", "SYSTEM", "DISCARD", "REINDEX", "CLUSTER"),
    *("DETACH", "SUBSCRIPTION", "PRAGMA", "VALUE"),
)


def transaction_problems(file: SqlFile, dialect: Dialect, journal_mode: str) -> list[Problem]:
    """Statements a file sqlmig runs in one transaction cannot contain: transaction
    control (a COMMIT would commit half a migration without its version row) and what
    the database refuses inside a transaction block (CREATE INDEX CONCURRENTLY, VACUUM)."""
    if file.no_transaction or not _may_hold_outside(file):
        return []
    from sqlmig.sqlkind import is_transaction_control, outside_transaction_only

    found = []
    for st in file.statements(dialect):
        if not _FIRST_WORD.match(st.text):
            continue  # INSERT, UPDATE, SELECT...: the bulk of a large file, at a glance
        if is_transaction_control(st.text, dialect):
            word = st.text.split(None, 1)[0].upper()
            found.append(
                Problem(
                    f"line {st.line}: {word} in a file sqlmig runs in one transaction would "
                    "end that transaction without the version row: remove it, or put "
                    "'-- sqlmig: no-transaction' at the top of the file if it must manage "
                    "its own transactions",
                    file.path,
                )
            )
            continue
        outside = outside_transaction_only(st.text, dialect, journal_mode=journal_mode)
        if outside is not None and not outside.ignored:
            found.append(
                Problem(
                    f"line {st.line}: {outside.reason}, and sqlmig runs this file in one: "
                    f"{outside.fix}",
                    file.path,
                )
            )
    return found


# The words a statement the check refuses can start with.
_FIRST_WORD = re.compile(
    r"(?:BEGIN|START|COMMIT|END|ABORT|ROLLBACK|PREPARE|VACUUM|CREATE|DROP|REINDEX|CLUSTER"
    r"|ALTER|DISCARD|DETACH|PRAGMA)\b",
    re.IGNORECASE,
)


def _may_hold_outside(file: SqlFile) -> bool:
    # A streamed file is checked statement by statement instead: searching over every
    # megabyte costs more than splitting it.
    return file.streamed or _has_word(file.text.upper(), _MAYBE_OUTSIDE)


def _has_word(text: str, words: tuple[str, ...]) -> bool:
    """Whether one of ``words`` is in ``text`` as a whole word, as regex's ``\\b`` sees it."""
    for word in words:
        at = text.find(word)
        while at >= 0:
            if not (_word_char(text, at - 1) or _word_char(text, at + len(word))):
                return True
            at = text.find(word, at + 1)
    return False


def _word_char(text: str, i: int) -> bool:
    return 0 <= i < len(text) and (text[i].isalnum() or text[i] == "_")


def has_statements(file: SqlFile, dialect: Dialect) -> bool:
    """Whether ``file`` holds any statement. The first line below the header comments
    starts outside any comment or string, so anything on it before a comment opens is a
    statement's; only when there is nothing there (a block comment, a lone ``;``), or the
    file is streamed, are its statements read, up to the first."""
    for line in file.text.split("\n"):
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        if _COMMENT_OPENS.split(stripped, maxsplit=1)[0].strip(" \t;"):
            return True
        break
    return next(file.statements(dialect), None) is not None


_COMMENT_OPENS = re.compile(r"--|/\*")


def empty_problems(up: SqlFile, down: SqlFile, dialect: Dialect) -> list[Problem]:
    """The pair's empty-file problems (planner.empty_file_problem); a down file is read
    only when it says it is empty, since an empty one is allowed."""
    found = [
        empty_file_problem(f, direction, has_statements(f, dialect))
        for f, direction in ((up, Direction.UP), (down, Direction.DOWN))
        if direction is Direction.UP or f.empty is not None
    ]
    return [p for p in found if p is not None]


def _scan(folder: Path, problems: list[Problem]) -> dict[int, list[Path]]:
    """Map version -> files in one of up/ or down/, reporting misnamed entries."""
    found: dict[int, list[Path]] = {}
    if not folder.is_dir():
        problems.append(Problem(f"folder {folder} is missing"))
        return found
    # scandir and plain-string sorting: Path objects cost ~10 ms per 1,000 files here.
    try:
        with os.scandir(folder) as it:
            entries = sorted((e.name, e.is_file()) for e in it)
    except OSError as exc:
        problems.append(Problem(f"folder {folder} cannot be listed: {exc.strerror}"))
        return found
    for name, is_file in entries:
        if name.startswith("."):
            continue  # .gitkeep, editor swap files
        path = folder / name
        match = FILE_RE.match(name)
        if not match or not is_file:
            problems.append(
                Problem(
                    "name does not follow NNNN_name.sql (digits, '_', letters, digits, _ or -)",
                    path,
                )
            )
            continue
        found.setdefault(int(match.group(1)), []).append(path)
    return found


def _pair(
    ups: dict[int, list[Path]], downs: dict[int, list[Path]], problems: list[Problem]
) -> list[tuple[int, Path, Path]]:
    pairs = []
    for version in sorted(ups.keys() | downs.keys()):
        u, d = ups.get(version, []), downs.get(version, [])
        if version == 0:
            problems.append(Problem("version 0 is reserved; number migrations from 1", (u + d)[0]))
            continue
        if len(u) > 1 or len(d) > 1:
            names = ", ".join(str(p) for p in u + d)
            problems.append(Problem(f"version {version} is used by more than one file: {names}"))
            continue
        if not d:
            problems.append(Problem("up file has no down file of the same name", u[0], version))
        elif not u:
            problems.append(Problem("down file has no up file of the same name", d[0], version))
        elif u[0].name != d[0].name:
            problems.append(
                Problem(f"up and down names differ: {u[0].name} vs {d[0].name}", u[0], version)
            )
        else:
            pairs.append((version, u[0], d[0]))
    return pairs


def load_migrations(
    directory: Path, dialect: Dialect | None = None, journal_mode: str = "wal"
) -> list[Migration]:
    """Read ``directory/up`` and ``directory/down``; raise ValidationError listing every
    problem. With ``dialect``, also check the statements of every file that runs in a
    transaction (transaction_problems)."""
    if not directory.is_dir():
        raise ConfigError(
            f"migration folder {directory} not found (set --dir or `dir` in sqlmig.toml)"
        )
    problems: list[Problem] = []
    ups = _scan(directory / "up", problems)
    downs = _scan(directory / "down", problems)
    migrations = []
    for version, up_path, down_path in _pair(ups, downs, problems):
        up = read_sql_file(up_path, problems)
        down = read_sql_file(down_path, problems)
        if up and up.irreversible is not None:
            problems.append(Problem("'irreversible' belongs in the down file", up_path, version))
        if up and down:
            name = FILE_RE.match(up_path.name).group(2)  # type: ignore[union-attr]
            migrations.append(Migration(version, name, up, down))
            problems += empty_problems(up, down, dialect or "postgres")
            if dialect is not None:
                problems += transaction_problems(up, dialect, journal_mode)
                problems += transaction_problems(down, dialect, journal_mode)
    if problems:
        raise ValidationError(problems)
    return migrations


def next_version(directory: Path) -> int:
    versions = [
        int(m.group(1))
        for sub in ("up", "down")
        if (directory / sub).is_dir()
        for p in (directory / sub).iterdir()
        if (m := FILE_RE.match(p.name))
    ]
    return max(versions, default=0) + 1


def new_migration(directory: Path, name: str) -> tuple[Path, Path]:
    """Write the next up/down pair with a header comment; return their paths."""
    name = re.sub(r"\s+", "_", name.strip())
    if not NAME_RE.match(name) or len(name) > 100:
        raise ConfigError(
            f"'{name}' is not a usable migration name: use letters, digits, '_' and '-' "
            "(at most 100 characters), starting with a letter or digit"
        )
    version = next_version(directory)
    filename = f"{version:04d}_{name}.sql"
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    hints = {
        "up": "-- First line '-- sqlmig: no-transaction' for CREATE INDEX CONCURRENTLY, VACUUM...",
        "down": "-- Undo the up file; if it cannot be undone: '-- sqlmig: irreversible <why>'",
    }
    paths = {sub: directory / sub / filename for sub in hints}
    for path in paths.values():
        if path.exists():
            raise ConfigError(f"{path} already exists")
    try:
        for sub, path in paths.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"-- {filename} ({sub}), created {created}\n{hints[sub]}\n\n", "utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {exc.filename or directory}: {exc.strerror}") from None
    return paths["up"], paths["down"]
