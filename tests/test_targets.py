"""Targets in sqlmig.toml: read and checked before anything connects, selected by name
or glob, split into shards that do not move when a target is added."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sqlmig.config import Settings
from sqlmig.errors import ConfigError
from sqlmig.models import Target
from sqlmig.targets import backup_label, read_groups, select, shard, shard_of


def config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "sqlmig.toml").write_text(text)
    return tmp_path


def names(targets: list[Target]) -> list[str]:
    return [t.name for t in targets]


def test_named_targets_list_files_and_their_order(tmp_path):
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "shards.txt").write_text(
        "# one URL a line, or NAME URL\n\nsqlite:///a.db\nbee sqlite:///b.db\n"
        "postgresql://app@db.internal:5432/orders\n"
    )
    config(
        tmp_path,
        '[targets]\neu-1 = "sqlite:///eu1.db"\nshards = { file = "lists/shards.txt" }\n'
        'us_1 = "postgresql://app@us1/app"\n',
    )
    groups = read_groups(tmp_path)
    found = select(groups, [], Settings(), every=True)
    assert names(found) == ["eu-1", "shards/a", "shards/bee", "shards/orders", "us_1"]
    assert found[3].url == "postgresql://app@db.internal:5432/orders"


def test_the_environment_supplies_credentials(tmp_path, monkeypatch):
    config(tmp_path, '[targets]\neu = "postgresql://app:${EU_PW}@eu/app"\n')
    monkeypatch.setenv("EU_PW", "hush")
    (target,) = select(read_groups(tmp_path), ["eu"], Settings(), every=False)
    assert target.url == "postgresql://app:hush@eu/app"
    monkeypatch.delenv("EU_PW")
    with pytest.raises(ConfigError, match=r"targets.eu: environment variable EU_PW is not set"):
        read_groups(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('targets = "x"', "must be a table of named targets"),
        ('[targets]\n"eu/1" = "sqlite:///a.db"', "target name 'eu/1'"),
        ("[targets]\neu = 3", "a URL, or a table with file or url and tenants"),
        ('[targets]\neu = "mysql://x/y"', "targets.eu: unsupported database URL"),
        ('[targets]\neu = { files = "x" }', r"unknown form \['files'\]"),
        ('[targets]\neu = { url = "postgresql://x/y" }', r"unknown form \['url'\]"),
        ('[targets]\neu = { file = "missing.txt" }', "cannot read"),
        ('[targets]\nt = { url = "sqlite:///a.db", tenants = "SELECT 1" }', "need a PostgreSQL"),
        ('[targets]\nt = { url = "postgresql://x/y", tenants = " " }', "an empty query"),
        ('[targets]\nt = { url = "postgresql://x/y", tenants = 1 }', "must be strings"),
    ],
)
def test_malformed_targets_are_errors_before_anything_connects(tmp_path, text, message):
    config(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        read_groups(tmp_path)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("a sqlite:///a.db extra\n", "write URL or NAME URL"),
        ("sqlite:///x/a.db\nsqlite:///y/a.db\n", "shards/a is named twice"),
        ("a postgresql://u:secret@h/db more\n", r"write URL or NAME URL, not .*u:\*\*\*@h"),
    ],
)
def test_a_bad_list_file_names_its_line(tmp_path, lines, message):
    (tmp_path / "list.txt").write_text(lines)
    config(tmp_path, '[targets]\nshards = { file = "list.txt" }\n')
    with pytest.raises(ConfigError, match=message) as info:
        read_groups(tmp_path)
    assert "secret" not in str(info.value)


def test_an_unknown_target_setting_is_refused_by_the_settings_too(tmp_path):
    from sqlmig.config import load_settings

    config(tmp_path, '[targets]\neu = "sqlite:///eu.db"\n')
    assert load_settings({}, tmp_path).target is None  # the table is the fleet's
    config(tmp_path, 'target = "eu"\n')
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings({}, tmp_path)


def test_globs_and_groups_select_in_configuration_order(tmp_path):
    (tmp_path / "l.txt").write_text("x sqlite:///x.db\ny sqlite:///y.db\nxx sqlite:///xx.db\n")
    config(
        tmp_path,
        '[targets]\neu-2 = "sqlite:///e2.db"\nus-1 = "sqlite:///u1.db"\n'
        'eu-1 = "sqlite:///e1.db"\nl = { file = "l.txt" }\n',
    )
    groups = read_groups(tmp_path)
    pick = lambda *p: names(select(groups, list(p), Settings(), every=False))  # noqa: E731
    assert pick("eu-*") == ["eu-2", "eu-1"]
    assert pick("eu-1", "eu-*", "l") == ["eu-2", "eu-1", "l/x", "l/y", "l/xx"]
    assert pick("l/x*") == ["l/x", "l/xx"]
    assert pick("*") == ["eu-2", "us-1", "eu-1", "l/x", "l/y", "l/xx"]
    for missing in ("eu-3", "l/z*", "eu-1/x"):
        with pytest.raises(ConfigError, match=re.escape(f"--target {missing}: no target")):
            pick(missing)


def test_no_targets_configured_is_said_so(tmp_path):
    with pytest.raises(ConfigError, match=r"no targets: name them in a \[targets\] table"):
        select(read_groups(tmp_path), ["x"], Settings(), every=False)


def test_shards_cover_every_target_once_and_stay_put_when_one_is_added():
    targets = [Target(f"tenants/t{i:04d}", "sqlite:///x.db") for i in range(1000)]
    slices = [shard(targets, i, 4) for i in range(1, 5)]
    assert sorted(t.name for s in slices for t in s) == sorted(names(targets))
    assert all(150 < len(s) < 350 for s in slices)  # a hash spreads them
    before = {t.name: shard_of(t.name, 4) for t in targets}
    more = [*targets, Target("tenants/new", "sqlite:///n.db")]
    assert {t.name: shard_of(t.name, 4) for t in more if t.name in before} == before


@pytest.mark.parametrize("text", ["0/3", "4/3", "1", "a/b", "1/0"])
def test_a_bad_shard_is_a_usage_error(text):
    from sqlmig.targets import parse_shard

    with pytest.raises(ConfigError, match="write I/N"):
        parse_shard(text)


def test_backup_labels_tell_every_target_apart():
    labels = [
        backup_label(Target(name, ""))
        for name in ("eu-1", "tenants/acme", "tenants/a b", "tenants/a_b", "tenants/a.b")
    ]
    assert labels[:2] == ["eu-1", "tenants.acme"]
    assert labels[2].startswith("tenants.a_b-") and labels[3] == "tenants.a_b"
    assert len(set(labels)) == len(labels)
