"""Run `sqlmig lint` over real migration sets, to count what it reports.

Reads a folder of repositories that were fetched beforehand (bare git directories, as
`<folder>/<owner+name>/repo`, or checked-out trees); it never downloads anything. Each
migration folder it recognises is converted to sqlmig's layout the way its tool runs it,
then linted as a PostgreSQL set:

- golang-migrate: ``NNN_name.up.sql`` / ``NNN_name.down.sql`` in one folder;
- diesel: ``<version>_<name>/up.sql`` and ``down.sql`` (``run_in_transaction = false`` in
  its metadata.toml becomes ``-- sqlmig: no-transaction``);
- goose: ``-- +goose Up`` / ``-- +goose Down`` sections (``NO TRANSACTION`` likewise);
- dbmate: ``-- migrate:up`` / ``-- migrate:down`` (``transaction:false`` likewise).

A golang-migrate or diesel file wrapped in its own ``BEGIN; ... COMMIT;`` is unwrapped (sqlmig
supplies the transaction), and a file whose only statement must run outside a
transaction becomes a no-transaction file, as those tools run it; so does a golang-migrate
file with transactions of its own (``BEGIN; ... COMMIT;`` more than once, or around part of
it), since golang-migrate runs it outside any transaction. Go-template schema
names (``{{ index .Options "Namespace" }}``, as gobuffalo/pop renders them) become ``auth``.

    python bench/lint_corpus.py FOLDER [--out findings.jsonl]   # default: $TMPDIR/lint_corpus.jsonl

Each finding goes to the JSON-lines file with its repository, original file, line, rule,
message and statement, for classifying by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlmig.config import Settings  # noqa: E402
from sqlmig.discovery import load_migrations  # noqa: E402
from sqlmig.lint import lint_set  # noqa: E402
from sqlmig.splitter import split  # noqa: E402
from sqlmig.sqlkind import is_transaction_control, outside_transaction_only  # noqa: E402

NO_TX = "-- sqlmig: no-transaction\n"
NAMESPACE = re.compile(r'\{\{\s*index \.Options "Namespace"\s*\}\}')


@dataclass
class Migration:
    version: str  # sorts in the order the tool applies them
    name: str
    up: str
    down: str
    source: str  # the original file(s)
    no_transaction: bool = False  # the up file's
    down_no_transaction: bool | None = None  # None: as the up file


class Tree:
    """Files of a repository at HEAD, from a bare git directory or a working tree."""

    def __init__(self, root: Path) -> None:
        self.git = root / "repo" if (root / "repo").is_dir() else root
        bare = (self.git / "HEAD").is_file() and (self.git / "objects").is_dir()
        self.files = self._ls() if bare else [str(p.relative_to(root)) for p in root.rglob("*")]
        self.root = None if bare else root

    def _ls(self) -> list[str]:
        out = subprocess.run(
            ["git", "--git-dir", str(self.git), "ls-tree", "-r", "--name-only", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.splitlines()

    def read(self, path: str) -> str:
        if self.root is not None:
            text = (self.root / path).read_text(errors="replace")
        else:
            out = subprocess.run(
                ["git", "--git-dir", str(self.git), "show", f"HEAD:{path}"],
                capture_output=True,
                check=True,
            )
            text = out.stdout.decode("utf-8", "replace")
        return NAMESPACE.sub("auth", text)


def unwrap(text: str) -> str:
    """Drop an outer BEGIN; ... COMMIT; that the tool needed and sqlmig supplies itself.
    Only a single outer pair is a wrapper: ``BEGIN; a; COMMIT; BEGIN; b; COMMIT;`` is two
    transactions of the file's own, and stays as written."""
    statements = split(text, "postgres")
    control = [is_transaction_control(st.text, "postgres") for st in statements]
    if len(statements) >= 2 and control[0] and control[-1] and not any(control[1:-1]):
        first, last = statements[0], statements[-1]
        return (
            text[: first.offset]
            + text[first.offset + len(first.text) : last.offset]
            + text[last.offset + len(last.text) :].replace(";", "", 1)
        )
    return text


def alone_outside(text: str) -> bool:
    statements = split(text, "postgres")
    return (
        len(statements) == 1
        and outside_transaction_only(statements[0].text, "postgres") is not None
    )


def own_transactions(text: str) -> bool:
    """Whether the file still controls transactions itself once unwrapped: golang-migrate
    runs a file outside any transaction, so its BEGIN/COMMIT pairs are how it runs, which
    in sqlmig is a no-transaction file (explicit BEGIN ... COMMIT is allowed there)."""
    return any(is_transaction_control(st.text, "postgres") for st in split(text, "postgres"))


def golang_migrate(tree: Tree) -> dict[str, list[Migration]]:
    sets: dict[str, list[Migration]] = {}
    for path in tree.files:
        m = re.match(r"(.*/)?([^/]+?)\.up\.sql$", path)
        if not m:
            continue
        folder, stem = m.group(1) or "", m.group(2)
        version, _, name = stem.partition("_")
        down_path = f"{folder}{stem}.down.sql"
        up = unwrap(tree.read(path))
        down = unwrap(tree.read(down_path)) if down_path in tree.files else ""
        up_no_tx = alone_outside(up) or own_transactions(up)
        down_no_tx = alone_outside(down) or own_transactions(down)
        sets.setdefault(folder, []).append(
            Migration(version, name or stem, up, down, path, up_no_tx, down_no_tx)
        )
    return sets


def diesel(tree: Tree) -> dict[str, list[Migration]]:
    sets: dict[str, list[Migration]] = {}
    for path in tree.files:
        m = re.match(r"(.*/)([^/]+)/up\.sql$", path)
        if not m:
            continue
        folder, stem = m.groups()
        version, _, name = stem.partition("_")
        meta = f"{folder}{stem}/metadata.toml"
        no_tx = meta in tree.files and "run_in_transaction = false" in tree.read(meta)
        down_path = f"{folder}{stem}/down.sql"
        up = tree.read(path)
        down = tree.read(down_path) if down_path in tree.files else ""
        sets.setdefault(folder, []).append(
            Migration(version, name or stem, up, down, path, no_tx or alone_outside(up))
        )
    return sets


def sectioned(tree: Tree) -> dict[str, list[Migration]]:
    """goose and dbmate: one file, an up and a down section."""
    sets: dict[str, list[Migration]] = {}
    for path in tree.files:
        if not path.endswith(".sql") or "migrat" not in path:
            continue
        text = tree.read(path)
        goose = re.search(r"^--\s*\+goose\s+Up", text, re.MULTILINE | re.IGNORECASE)
        dbmate = re.search(r"^--\s*migrate:up", text, re.MULTILINE)
        if not (goose or dbmate):
            continue
        up, down, no_tx = _sections(text, goose is not None)
        folder, _, file = path.rpartition("/")
        stem = file.removesuffix(".sql")
        version, _, name = stem.partition("_")
        sets.setdefault(folder, []).append(Migration(version, name or stem, up, down, path, no_tx))
    return sets


def _sections(text: str, goose: bool) -> tuple[str, str, bool]:
    if goose:
        no_tx = bool(re.search(r"^--\s*\+goose\s+NO\s+TRANSACTION", text, re.MULTILINE | re.I))
        text = re.sub(
            r"^--\s*\+goose\s+(StatementBegin|StatementEnd|NO TRANSACTION|ENVSUB.*)\s*$",
            "",
            text,
            flags=re.MULTILINE | re.I,
        )
        parts = re.split(r"^--\s*\+goose\s+Down.*$", text, maxsplit=1, flags=re.MULTILINE | re.I)
        up = re.sub(r"^--\s*\+goose\s+Up.*$", "", parts[0], flags=re.MULTILINE | re.I)
        return up, parts[1] if len(parts) > 1 else "", no_tx
    head = re.search(r"^--\s*migrate:up(.*)$", text, re.MULTILINE)
    no_tx = head is not None and "transaction:false" in head.group(1)
    parts = re.split(r"^--\s*migrate:down.*$", text, maxsplit=1, flags=re.MULTILINE)
    up = re.sub(r"^--\s*migrate:up.*$", "", parts[0], flags=re.MULTILINE)
    return up, parts[1] if len(parts) > 1 else "", no_tx


def _order(m: Migration) -> tuple[int, str]:
    """Numbers as numbers (golang-migrate: 9 before 10), anything else as text."""
    return (int(m.version), "") if m.version.isdigit() else (10**20, m.version)


def write(target: Path, migrations: list[Migration]) -> dict[str, str]:
    """The set in sqlmig's layout; returns sqlmig file name -> original file."""
    for sub in ("up", "down"):
        (target / sub).mkdir(parents=True)
    origin = {}
    for number, m in enumerate(sorted(migrations, key=_order), 1):
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", m.name)[:60] or "m"
        name = f"{number:04d}_{safe}.sql"
        down_no_tx = m.no_transaction if m.down_no_transaction is None else m.down_no_transaction
        (target / "up" / name).write_text((NO_TX if m.no_transaction else "") + m.up)
        (target / "down" / name).write_text((NO_TX if down_no_tx else "") + m.down)
        origin[name] = m.source
    return origin


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "lint_corpus.jsonl"
    )
    args = parser.parse_args()
    counts: Counter[str] = Counter()
    totals = Counter({"files": 0, "statements": 0, "sets": 0})
    with args.out.open("w") as out, tempfile.TemporaryDirectory() as scratch:
        for repo in sorted(p for p in args.folder.iterdir() if p.is_dir()):
            tree = Tree(repo)
            found = {**golang_migrate(tree), **diesel(tree), **sectioned(tree)}
            for folder, migrations in sorted(found.items()):
                if len(migrations) < 3:
                    continue  # examples and fixtures, not a set
                target = Path(scratch) / f"{repo.name}-{totals['sets']}"
                origin = write(target, migrations)
                totals["sets"] += 1
                for m in load_migrations(target):
                    for f in (m.up, m.down):
                        statements = len(split(f.text, "postgres"))
                        totals["files"] += 1 if statements else 0
                        totals["statements"] += statements
                settings = Settings(
                    database_url="postgresql://corpus@nowhere.invalid/x", dir=target
                )
                for f in lint_set(load_migrations(target), settings):
                    counts[f.rule] += 1
                    text = f.path.read_text()
                    statement = next(
                        (s.text for s in reversed(split(text, "postgres")) if s.line <= f.line), ""
                    )
                    out.write(
                        json.dumps(
                            {
                                "repo": repo.name,
                                "set": folder,
                                "file": f"{f.path.parent.name}/{f.path.name}",
                                "source": origin.get(f.path.name, ""),
                                "line": f.line,
                                "rule": f.rule,
                                "message": f.message,
                                "statement": statement[:600],
                            }
                        )
                        + "\n"
                    )
    print(
        f"{totals['sets']} sets, {totals['files']} files with statements, {totals['statements']} statements"
    )
    for rule, n in counts.most_common():
        print(f"  {rule:24} {n}")
    print(f"  {'total':24} {sum(counts.values())}  (details in {args.out})")


if __name__ == "__main__":
    main()
