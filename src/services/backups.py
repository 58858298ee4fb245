"""Backups of Vault and the metadata database: create, list, prune, verify, restore, restore one secret.

A backup is only called good once it has been restored: `verify` checks every checksum, then
restores the snapshot into a scratch Vault and compares what it holds with the manifest.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from domain.backups import (
    DATABASE_NAME,
    MANIFEST_NAME,
    SNAPSHOT_NAME,
    BackupCorrupt,
    BackupError,
    BackupMetrics,
    BackupRecord,
    BackupStore,
    DatabaseDumper,
    FileEntry,
    Manifest,
    Progress,
    RestoredStore,
    RetentionPolicy,
    SecretVersions,
    SnapshotRestorer,
    SnapshotSource,
)

# A scratch Vault holding a restored snapshot, stopped and wiped on exit.
ScratchFactory = Callable[[Path, Manifest, Sequence[str]], AbstractContextManager[RestoredStore]]


@dataclass(frozen=True)
class VerifyReport:
    manifest: Manifest
    found_secrets: int
    found_versions: int

    def lines(self) -> list[str]:
        inv = self.manifest.inventory
        return [
            f"checksums OK ({len(self.manifest.files)} files)",
            (
                f"restored into a scratch Vault: {self.found_secrets} secrets, {self.found_versions} versions "
                f"({len(inv.per_user)} users), as the manifest says"
            ),
        ]


class BackupService:
    def __init__(
        self,
        *,
        store: BackupStore,
        source: SnapshotSource | None = None,
        database: DatabaseDumper | None = None,
        metrics: BackupMetrics | None = None,
        mount: str = "mirage",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._source = source
        self._database = database
        self._metrics = metrics
        self._mount = mount
        self._clock = clock

    def create(self, progress: Progress | None = None) -> BackupRecord:
        """Snapshot (atomic, checksummed), database dump, then the manifest last: a directory
        without a manifest is an interrupted backup and is never taken for a good one."""
        source = self._source
        if source is None:
            raise BackupError("no Vault to back up")
        created_at = self._clock()
        directory = self._store.new_backup(created_at)
        inventory = source.inventory()  # before the snapshot: a verify may find more, never less
        shares, threshold = source.seal_configuration()
        files = {
            SNAPSHOT_NAME: self._store.write_atomically(
                directory / SNAPSHOT_NAME, lambda out: source.snapshot_to(out, progress)
            )
        }
        database = "not backed up (no database configured)"
        if self._database is not None:
            database, written = self._database.dump(directory)
            if written is not None:
                files[written] = self._store.checksum(directory / written)
        manifest = Manifest(
            created_at=created_at,
            vault_version=source.version(),
            mount=self._mount,
            key_shares=shares,
            key_threshold=threshold,
            inventory=inventory,
            files=files,
            database=database,
        )
        text = manifest.to_json().encode()
        self._store.write_atomically(directory / MANIFEST_NAME, lambda out: out.write(text))
        if self._metrics is not None:
            self._metrics.record_success(manifest)
        return BackupRecord(path=directory, created_at=created_at, manifest=manifest)

    def list(self) -> builtins.list[BackupRecord]:
        return sorted(self._store.list(), key=lambda b: b.created_at, reverse=True)

    def prune(self, policy: RetentionPolicy, *, dry_run: bool = False) -> builtins.list[BackupRecord]:
        doomed = policy.to_remove(self._store.list(), self._clock())
        if not dry_run:
            for backup in doomed:
                self._store.remove(backup)
        return doomed

    def check(self, location: Path) -> tuple[Path, Manifest]:
        """The backup's directory and manifest, after every file's size and SHA-256 matched."""
        directory = backup_directory(location)
        manifest_path = directory / MANIFEST_NAME
        if not manifest_path.is_file():
            raise BackupCorrupt(f"{directory} has no {MANIFEST_NAME}: not a backup, or an interrupted one")
        manifest = Manifest.from_json(manifest_path.read_text())
        if SNAPSHOT_NAME not in manifest.files:
            raise BackupCorrupt("the manifest lists no Vault snapshot")
        for name, expected in manifest.files.items():
            path = directory / name
            if not path.is_file():
                raise BackupCorrupt(f"{name} is missing from {directory}")
            found = self._store.checksum(path)
            if found.bytes != expected.bytes:
                raise BackupCorrupt(f"{name} is {found.bytes} bytes, the manifest says {expected.bytes}: truncated?")
            if found.sha256 != expected.sha256:
                raise BackupCorrupt(f"{name}'s SHA-256 differs from the manifest: the file is corrupt")
        return directory, manifest

    def verify(self, location: Path, original_shares: Sequence[str], scratch: ScratchFactory) -> VerifyReport:
        directory, manifest = self.check(location)
        with scratch(directory / SNAPSHOT_NAME, manifest, original_shares) as restored:
            found = restored.inventory()
        differences = manifest.inventory.differences(found)
        if differences:
            raise BackupCorrupt("the restored snapshot differs from the manifest: " + "; ".join(differences))
        return VerifyReport(manifest=manifest, found_secrets=found.secrets, found_versions=found.versions)

    def restore(self, location: Path, original_shares: Sequence[str], restorer: SnapshotRestorer) -> str:
        directory, manifest = self.check(location)
        return restorer.restore(directory / SNAPSHOT_NAME, manifest, original_shares)

    def secret_versions(
        self, location: Path, path: str, original_shares: Sequence[str], scratch: ScratchFactory
    ) -> SecretVersions:
        """One secret's readable versions as the backup holds them (through a scratch Vault)."""
        directory, manifest = self.check(location)
        with scratch(directory / SNAPSHOT_NAME, manifest, original_shares) as restored:
            return restored.read_versions(path)


def backup_directory(location: Path) -> Path:
    """A backup is named by its directory, its manifest or its snapshot file."""
    if location.is_dir():
        return location
    if location.name in (MANIFEST_NAME, SNAPSHOT_NAME, DATABASE_NAME):
        return location.parent
    raise BackupError(f"{location} is not a backup directory, manifest or snapshot")


def iter_entries(manifest: Manifest) -> Iterator[tuple[str, FileEntry]]:
    yield from sorted(manifest.files.items())
