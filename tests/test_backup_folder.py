"""One rule for where backups go, the same for the library and the CLI: ``backup_dir``
(relative to the config file that sets it, or to the cwd from a flag); without it, a
`backups` folder next to the SQLite database file, whatever the process's cwd."""

from __future__ import annotations

from pathlib import Path

from sqlmig import Migrator
from tests.helpers import two_migrations
from tests.test_cli import sqlmig


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.sqlite"))


def test_the_library_puts_them_next_to_the_sqlite_file_not_in_the_cwd(
    write_migration, tmp_path, monkeypatch
):
    folder = two_migrations(write_migration)
    (tmp_path / "data").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    url = f"sqlite:///{tmp_path / 'data' / 'app.db'}"
    with Migrator(url, folder) as m:
        monkeypatch.chdir(tmp_path)  # an application that changes folder later
        result = m.apply()
        assert result.backup is not None
        assert result.backup.path.parent == tmp_path / "data" / "backups"
        assert [b.path for b in m.backups()] == [result.backup.path]
    assert not (elsewhere / "backups").exists() and not (tmp_path / "backups").exists()


def test_a_relative_sqlite_url_is_next_to_the_file_it_names(write_migration, tmp_path):
    folder = two_migrations(write_migration)
    (tmp_path / "data").mkdir()
    with Migrator("sqlite:///data/app.db", folder) as m:  # relative to the cwd: tmp_path
        assert m.settings.backup_folder == tmp_path / "data" / "backups"


def test_the_cli_and_the_library_agree(write_migration, tmp_path, monkeypatch):
    two_migrations(write_migration)
    (tmp_path / "data").mkdir()
    url = f"sqlite:///{tmp_path / 'data' / 'app.db'}"
    done = sqlmig("apply", "--to", "1", "-d", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    beside = tmp_path / "data" / "backups"
    assert len(names(beside)) == 1 and f"backup before migrating: {beside}" in done.stdout
    listed = sqlmig("backups", "-d", url, cwd=tmp_path)
    assert f"backups in {beside}" in listed.stdout and names(beside)[0] in listed.stdout
    monkeypatch.chdir(tmp_path / "data")
    with Migrator.from_config(tmp_path, database_url=url) as m:
        assert [b.path.name for b in m.backups()] == names(beside)
        m.apply()
    assert len(names(beside)) == 2 and not (tmp_path / "backups").exists()


def test_backup_dir_from_the_config_file_is_relative_to_it(write_migration, tmp_path, monkeypatch):
    two_migrations(write_migration)
    (tmp_path / "sqlmig.toml").write_text(
        f'database_url = "sqlite:///{tmp_path / "app.db"}"\nbackup_dir = "var/bk"\n'
    )
    (tmp_path / "var").mkdir()
    assert sqlmig("apply", "--to", "1", cwd=tmp_path).returncode == 0
    wanted = tmp_path / "var" / "bk"
    assert len(names(wanted)) == 1
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with Migrator.from_config(tmp_path) as m:
        assert m.settings.backup_folder == wanted
        m.backup()
    assert len(names(wanted)) == 2 and not (elsewhere / "var").exists()
    # A flag is relative to where it is typed, as every path flag is.
    flagged = sqlmig("backup", "--backup-dir", "mine", cwd=tmp_path)
    assert flagged.returncode == 0 and len(names(tmp_path / "mine")) == 1


def test_without_a_database_file_it_is_backups_in_the_cwd(pg_url, write_migration, tmp_path):
    folder = two_migrations(write_migration)
    with Migrator(pg_url, folder) as m:
        assert m.settings.backup_folder == tmp_path / "backups"
    with Migrator("sqlite:///:memory:", folder) as m:
        assert m.settings.backup_folder == tmp_path / "backups"


def test_a_given_backup_dir_wins(write_migration, tmp_path):
    folder = two_migrations(write_migration)
    with Migrator(f"sqlite:///{tmp_path / 'db.sqlite'}", folder, backup_dir="rel") as m:
        assert m.settings.backup_folder == tmp_path / "rel"
