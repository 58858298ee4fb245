"""Backups as directories on a volume; every file written atomically (temp file, fsync, rename).

Layout: `<dir>/mirage-<UTC time>/{vault.snap, database.dump, manifest.json}`. The manifest is
written last, so a directory without one is an interrupted backup (listed, never pruned, never
restored).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from domain.backups import MANIFEST_NAME, BackupCorrupt, BackupError, BackupRecord, FileEntry, Manifest

PREFIX = "mirage-"
_TIME_FORMAT = "%Y%m%dT%H%M%SZ"


class FileBackupStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def new_backup(self, created_at: datetime) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = PREFIX + created_at.astimezone(UTC).strftime(_TIME_FORMAT)
        path = self.directory / name
        suffix = 1
        while path.exists():  # two backups in the same second
            suffix += 1
            path = self.directory / f"{name}-{suffix}"
        path.mkdir(mode=0o700)
        return path

    def write_atomically(self, path: Path, produce: Callable[[BinaryIO], object]) -> FileEntry:
        temporary = path.with_name(f".{path.name}.partial")
        digest = hashlib.sha256()
        size = 0
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as raw:
                hashing = _HashingWriter(raw, digest)
                produce(hashing)  # type: ignore[arg-type]
                size = hashing.size
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(temporary, path)
            _fsync_directory(path.parent)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return FileEntry(sha256=digest.hexdigest(), bytes=size)

    def checksum(self, path: Path) -> FileEntry:
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
        return FileEntry(sha256=digest.hexdigest(), bytes=size)

    def list(self) -> list[BackupRecord]:
        if not self.directory.is_dir():
            return []
        records = []
        for path in sorted(self.directory.iterdir()):
            if not (path.is_dir() and path.name.startswith(PREFIX)):
                continue
            manifest = None
            manifest_path = path / MANIFEST_NAME
            if manifest_path.is_file():
                with contextlib.suppress(BackupCorrupt):
                    manifest = Manifest.from_json(manifest_path.read_text())
            created_at = manifest.created_at if manifest else _time_from_name(path.name)
            records.append(BackupRecord(path=path, created_at=created_at, manifest=manifest))
        return records

    def remove(self, backup: BackupRecord) -> None:
        if backup.path.parent != self.directory or not backup.path.name.startswith(PREFIX):
            raise BackupError(f"refusing to remove {backup.path}: not one of this store's backups")
        shutil.rmtree(backup.path)


class _HashingWriter:
    def __init__(self, raw: BinaryIO, digest: hashlib._Hash) -> None:
        self._raw = raw
        self._digest = digest
        self.size = 0

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        self.size += len(data)
        return self._raw.write(data)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _time_from_name(name: str) -> datetime:
    stamp = name[len(PREFIX) :].split("-")[0]
    try:
        return datetime.strptime(stamp, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


class TextfileBackupMetrics:
    """Writes the node_exporter textfile the `BackupTooOld` alert reads (atomically, like the backup)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record_success(self, manifest: Manifest) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        size = sum(entry.bytes for entry in manifest.files.values())
        text = (
            "# HELP mirage_backup_last_success_timestamp_seconds When the last backup completed (Unix time).\n"
            "# TYPE mirage_backup_last_success_timestamp_seconds gauge\n"
            f"mirage_backup_last_success_timestamp_seconds {manifest.created_at.timestamp():.3f}\n"
            "# HELP mirage_backup_last_size_bytes Size of the last backup's files.\n"
            "# TYPE mirage_backup_last_size_bytes gauge\n"
            f"mirage_backup_last_size_bytes {size}\n"
            "# HELP mirage_backup_last_secrets Secrets counted in the last backup.\n"
            "# TYPE mirage_backup_last_secrets gauge\n"
            f"mirage_backup_last_secrets {manifest.inventory.secrets}\n"
        )
        FileBackupStore(self.path.parent).write_atomically(self.path, lambda out: out.write(text.encode()))
