"""The metadata database (index, accounts, audit trail) backed up next to the Vault snapshot."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path
from urllib.parse import unquote, urlsplit

from domain.backups import DATABASE_NAME, BackupError


class SqlDatabaseDumper:
    """PostgreSQL: `pg_dump -Fc` (restore with `pg_restore --clean`). SQLite: an online copy
    through sqlite3's backup API. Anything else: a note in the manifest."""

    def __init__(self, url: str, *, pg_dump: str | None = None) -> None:
        self._url = url
        self._pg_dump = pg_dump or shutil.which("pg_dump")

    def dump(self, directory: Path) -> tuple[str, str | None]:
        target = directory / DATABASE_NAME
        if self._url.startswith("postgresql"):
            return self._dump_postgres(target)
        if self._url.startswith("sqlite"):
            source = self._url.split("///", 1)[-1]
            if not source or source == ":memory:":
                return "sqlite in memory: not backed up", None
            # closing(): sqlite3's own context manager commits but does not close.
            with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(target)) as copy:
                live.backup(copy)
            os.chmod(target, 0o600)
            return "sqlite", DATABASE_NAME
        return f"not backed up ({self._url.split(':', 1)[0]} is not supported)", None

    def _dump_postgres(self, target: Path) -> tuple[str, str | None]:
        if self._pg_dump is None:
            raise BackupError("pg_dump is not installed: install postgresql-client, or pass --no-database")
        parts = urlsplit(self._url.replace("postgresql+asyncpg://", "postgresql://", 1))
        env = {**os.environ, "PGPASSWORD": unquote(parts.password or "")}
        command = [
            self._pg_dump,
            "-Fc",
            "--no-owner",
            "-h",
            parts.hostname or "127.0.0.1",
            "-p",
            str(parts.port or 5432),
            "-U",
            unquote(parts.username or "postgres"),
            "-f",
            str(target),
            parts.path.lstrip("/"),
        ]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise BackupError(f"pg_dump failed: {result.stderr.strip()[-300:]}")
        with open(target, "rb+") as handle:
            os.fsync(handle.fileno())
        return "postgresql", DATABASE_NAME
