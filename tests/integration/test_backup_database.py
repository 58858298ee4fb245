"""The metadata database next to the snapshot: `pg_dump -Fc` for PostgreSQL, an online copy for SQLite."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from adapters.backups.database import SqlDatabaseDumper
from domain.backups import DATABASE_NAME, BackupError

pytestmark = pytest.mark.integration


def test_postgres_is_dumped_in_custom_format(pg_url, tmp_path):
    kind, name = SqlDatabaseDumper(pg_url).dump(tmp_path)
    assert (kind, name) == ("postgresql", DATABASE_NAME)
    assert (tmp_path / DATABASE_NAME).read_bytes()[:5] == b"PGDMP"  # pg_restore's custom format


def test_a_database_that_does_not_exist_fails_with_pg_dumps_reason(pg_url, tmp_path):
    missing = pg_url.rsplit("/", 1)[0] + "/mirage_no_such_database"
    with pytest.raises(BackupError, match="pg_dump failed"):
        SqlDatabaseDumper(missing).dump(tmp_path)


def test_sqlite_is_copied_while_open(tmp_path):
    source = tmp_path / "live.sqlite3"
    with closing(sqlite3.connect(source)) as live, live:
        live.execute("CREATE TABLE secret_index (key TEXT)")
        live.execute("INSERT INTO secret_index VALUES ('db-password')")
    backup = tmp_path / "backup"
    backup.mkdir()
    kind, name = SqlDatabaseDumper(f"sqlite+aiosqlite:///{source}").dump(backup)
    assert (kind, name) == ("sqlite", DATABASE_NAME)
    with closing(sqlite3.connect(backup / DATABASE_NAME)) as copy:
        assert copy.execute("SELECT key FROM secret_index").fetchall() == [("db-password",)]


def test_an_in_memory_sqlite_is_noted_not_copied(tmp_path):
    assert SqlDatabaseDumper("sqlite+aiosqlite:///:memory:").dump(tmp_path) == ("sqlite in memory: not backed up", None)
