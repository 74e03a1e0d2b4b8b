"""Settings precedence and URL handling, including masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlmig.config import load_settings, mask_url, parse_url
from sqlmig.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "dialect", "path"),
    [
        ("sqlite:///relative.db", "sqlite", "relative.db"),
        ("sqlite:////abs/path.db", "sqlite", "/abs/path.db"),
        ("postgresql://u:p@h:5432/db", "postgres", ""),
        ("postgres://u@h/db", "postgres", ""),
        ("postgresql+psycopg://u@h/db", "postgres", ""),
    ],
)
def test_parse_url(url, dialect, path):
    parsed = parse_url(url)
    assert parsed.dialect == dialect and parsed.sqlite_path == path


@pytest.mark.parametrize(
    "url",
    ["mysql://u:pw@h/db", "sqlite://host/db", "sqlite://", "nothing", "postgresql://h:notaport/db"],
)
def test_bad_urls(url):
    with pytest.raises(ConfigError) as info:
        parse_url(url)
    assert "pw" not in str(info.value).replace("://", "")


def test_masking():
    assert (
        mask_url("postgresql://app:s%40cret@db:5432/app?sslmode=require")
        == "postgresql://app:***@db:5432/app?sslmode=require"
    )
    assert (
        mask_url("postgresql://db/app?user=a&password=zzz")
        == "postgresql://db/app?user=a&password=***"
    )
    parsed = parse_url("postgresql://app:s%40cret@db/app")
    assert parsed.redact("auth failed for s@cret and s%40cret") == "auth failed for *** and ***"
    assert "s@cret" not in repr(parsed)


def test_conninfo_drops_driver_suffix():
    assert parse_url("postgresql+psycopg://u@h/db").conninfo == "postgresql://u@h/db"


def test_precedence(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert load_settings({}, tmp_path).database_url == "sqlite:///sqlmig.db"
    (tmp_path / "pyproject.toml").write_text(
        '[tool.sqlmig]\ndatabase_url = "sqlite:///py.db"\ndir = "db"\nlock_timeout = 5\n'
    )
    s = load_settings({}, tmp_path)
    assert (s.database_url, s.dir, s.lock_timeout) == ("sqlite:///py.db", tmp_path / "db", 5)
    (tmp_path / "sqlmig.toml").write_text('database_url = "sqlite:///toml.db"\n')
    assert load_settings({}, tmp_path).database_url == "sqlite:///toml.db"
    monkeypatch.setenv("DATABASE_URL", "sqlite:///env.db")
    assert load_settings({}, tmp_path).database_url == "sqlite:///env.db"
    assert (
        load_settings({"database_url": "sqlite:///flag.db", "dir": None}, tmp_path).database_url
        == "sqlite:///flag.db"
    )


def test_bad_config_values(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (tmp_path / "sqlmig.toml").write_text('lock_timeout = "soon"\n')
    with pytest.raises(ConfigError, match="lock_timeout"):
        load_settings({}, tmp_path)
    (tmp_path / "sqlmig.toml").write_text("not toml [")
    with pytest.raises(ConfigError, match="sqlmig.toml"):
        load_settings({}, tmp_path)
    (tmp_path / "sqlmig.toml").write_text('sqlite_journal_mode = "yolo"\n')
    with pytest.raises(ConfigError, match="journal_mode"):
        load_settings({}, tmp_path)


# Passwords as generators make them: libpq accepts '#', '?' and '/' unencoded, and an
# unencoded '@' sends the rest of the password into the host name.
@pytest.mark.parametrize(
    ("url", "pieces"),
    [
        ("postgresql://app:1234#Zq9x@db:5432/app", ["1234#Zq9x", "Zq9x"]),
        ("postgresql://app:pa?ss/word@db/app", ["pa?ss/word"]),
        ("postgresql://app:s3cr3t-P@ss@db/app", ["s3cr3t-P@ss", "ss@db"]),
        ("postgresql://app@db/app?password=s3cr3t-P%40ss%zz&sslmode=require", ["s3cr3t"]),
        ("host=db user=app password=s3cr3t-P@ss dbname=app", ["s3cr3t"]),
        ("host=db password='quoted secret' dbname=app", ["quoted secret"]),
    ],
)
def test_no_password_survives_masking_or_redaction(url, pieces):
    masked = mask_url(url)
    for piece in pieces:
        assert piece not in masked
    try:
        parsed = parse_url(url)
    except ConfigError as exc:  # key=value strings are not URLs: the message masks them
        message = str(exc)
    else:
        # What libpq says about such a URL quotes the host it read: the password's tail.
        message = parsed.redact(
            f'could not translate host name "{url.split("@", 2)[-1]}"; password {url}'
        )
    for piece in pieces:
        assert piece not in message, message


def test_urls_libpq_accepts_are_accepted():
    for url in (
        "postgresql://app:1234#Zq9x@db:5432/app",
        "postgresql://app:pw@h1:5432,h2:5433/app?target_session_attrs=read-write",
    ):
        assert parse_url(url).dialect == "postgres"


def test_scratch_database_url_keeps_server_and_options():
    from sqlmig.config import with_database

    assert (
        with_database("postgresql://app:a/b?c@db:5432/app?sslmode=require", "scratch")
        == "postgresql://app:a/b?c@db:5432/scratch?sslmode=require"
    )
    assert with_database("postgresql://db", "scratch") == "postgresql://db/scratch"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("lock_timeout = inf", "timeouts must be seconds"),
        ("statement_timeout = nan", "timeouts must be seconds"),
        ('database_url = ["postgresql://app:s3cr3t@db/app"]', "database_url = list"),
    ],
)
def test_impossible_settings_are_refused_without_echoing_secrets(
    tmp_path: Path, monkeypatch, setting, message
):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (tmp_path / "sqlmig.toml").write_text(setting + "\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_settings({}, tmp_path)
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            'lock_timeout = "30"',
            "setting lock_timeout = '30' has the wrong type: expected a number, not a string "
            "(write it without quotes)",
        ),
        (
            'statement_timeout = "soon"',
            "setting statement_timeout = 'soon' has the wrong type: expected a number, not a string",
        ),
        ("backup_keep = 2.5", "expected a whole number, not a decimal number"),
        ('backup_keep = "3"', "expected a whole number, not a string (write it without quotes)"),
        ("lock_timeout = true", "expected a number, not true or false"),
        ('backup_schemas = "public"', "expected a list, not a string"),
        ('lint_rules = ["drop-column"]', "expected a table (a dict), not a list"),
        ("table = 5", "expected a string, not a whole number"),
        (
            "dir = 5",
            "setting dir = 5 has the wrong type: expected a path (a string), not a whole number",
        ),
    ],
)
def test_a_setting_of_the_wrong_type_names_the_type_expected(
    tmp_path: Path, monkeypatch, setting, message
):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (tmp_path / "sqlmig.toml").write_text(setting + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings({}, tmp_path)
    assert str(info.value).endswith(message)  # the hint about quotes only where it helps
