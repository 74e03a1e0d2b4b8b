"""Large SQL files as a stream: read, normalised, hashed and split a piece at a time.

A 100 MB migration or a 500 MB seed file must not cost its size several times over in
memory (the text, then the list of its statements). Files above INLINE_LIMIT are never
held whole: discovery hashes them chunk by chunk, and the statements come off the disk
one at a time when they run. The result is the same as reading the whole file: the
same normalisation (no BOM, LF line endings), the same checksum, the same statements
with the same lines and offsets as splitter.split gives; a single statement of N MB
costs about N MB.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlmig.splitter import Dialect, Statement, _skip_blank, _statement_end

INLINE_LIMIT = 4 * 1024 * 1024  # bytes; larger files are streamed
CHUNK = 1024 * 1024
# Enough of a statement to know what it is: splitter reads its head (CREATE [OR REPLACE]
# FUNCTION, CREATE TRIGGER) to know whether a `;` inside a body ends it.
_HEAD = 4096


def normalised_chunks(path: Path, chunk: int = CHUNK) -> Iterator[str]:
    """The file's text as discovery.normalise gives it, a piece at a time: UTF-8 decoded
    (UnicodeDecodeError on bad bytes, with the position in the file), BOM removed, CRLF
    and CR as LF (a CR at the end of a piece waits to see whether an LF follows)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    first, held, done = True, "", 0
    with path.open("rb") as f:
        while True:
            raw = f.read(chunk)
            try:
                text = held + decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as exc:  # in file offsets, as a whole-file read says
                raise UnicodeDecodeError(
                    exc.encoding, exc.object, done + exc.start, done + exc.end, exc.reason
                ) from None
            done += len(raw)
            if first and text:
                text, first = text.removeprefix("\ufeff"), False
            held = ""
            if raw and text.endswith("\r"):
                text, held = text[:-1], "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if text:
                yield text
            if not raw:
                return


def checksum(path: Path) -> str:
    """SHA-256 of the normalised text, as discovery.checksum of the whole text."""
    digest = hashlib.sha256()
    for text in normalised_chunks(path):
        digest.update(text.encode("utf-8"))
    return digest.hexdigest()


def split_stream(chunks: Iterable[str], dialect: Dialect) -> Iterator[Statement]:
    """splitter.split over text that arrives in pieces: the same statements, lines and
    offsets, holding only the statement being read (and a piece of what follows).

    A statement is scanned only once the buffer holds it whole: when the scan runs off
    the end of what has been read (an unfinished quote, comment or body), what is done
    is dropped, more is read, doubling what is left, and the statement is scanned again
    from its start.
    """
    pg = dialect == "postgres"
    reader = _Buffer(iter(chunks))
    pos = 0
    while True:
        start = _skip_blank(reader.buf, pos, pg)
        if not reader.eof and len(reader.buf) - start < _HEAD:
            pos = reader.drop(pos)
            reader.read(len(reader.buf) + CHUNK)
            continue
        if start >= len(reader.buf):
            return
        end = _statement_end(reader.buf, start, pg)
        if end >= len(reader.buf) and not reader.eof:
            # What is read is dropped first: doubling what is still unread keeps a long
            # statement's rescans linear, while doubling the whole buffer grew it with
            # the file (100 MB of short statements peaked at 100 MB).
            pos = reader.drop(pos)
            reader.read(max(2 * len(reader.buf), CHUNK))
            continue
        yield Statement(reader.buf[start:end].rstrip(), reader.line_of(start), reader.base + start)
        pos = end + 1


class _Buffer:
    """The part of the text read and not yet dropped, with where it is in the file."""

    def __init__(self, pieces: Iterator[str]) -> None:
        self.pieces = pieces
        self.buf = ""
        self.base = 0  # file offset of buf[0]
        self.eof = False
        self._at, self._line = 0, 1  # a buffer offset and the file line it is on

    def read(self, wanted: int) -> None:
        parts, have = [self.buf], len(self.buf)
        while have < wanted:
            piece = next(self.pieces, None)
            if piece is None:
                self.eof = True
                break
            parts.append(piece)
            have += len(piece)
        self.buf = "".join(parts)

    def drop(self, pos: int) -> int:
        """Forget ``buf[:pos]``, which is read; return 0, where ``pos`` now is."""
        self.line_of(pos)
        self.buf, self.base, self._at = self.buf[pos:], self.base + pos, 0
        return 0

    def line_of(self, offset: int) -> int:
        """The line of ``buf[offset]``, counting only the newlines not counted before
        (offsets only move forward)."""
        self._line += self.buf.count("\n", self._at, offset)
        self._at = offset
        return self._line
