"""Backups of the secret store: what one is made of, which ones to keep, and the ports that make them.

A backup is a directory holding a Raft snapshot of Vault (`vault.snap`), optionally a dump of the
metadata database, and `manifest.json`: when it was taken, from which Vault version, with which
seal configuration (a restore must initialise the fresh cluster the same way), the SHA-256 and
size of every file, and the inventory (secrets, versions, per-user counts) a verify checks against.
No value, share or token is ever written into a manifest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Protocol

from domain.errors import DomainError
from domain.values import SecretValue

MANIFEST_NAME = "manifest.json"
SNAPSHOT_NAME = "vault.snap"
DATABASE_NAME = "database.dump"
MANIFEST_FORMAT = 1


class BackupError(DomainError):
    """A backup could not be made, read, verified or restored; the message says which and why."""

    title = "Backup failed"


class BackupCorrupt(BackupError):
    """A file's checksum or size differs from its manifest, or the snapshot is unreadable."""

    title = "Backup corrupt"


@dataclass(frozen=True)
class Inventory:
    """What a store holds, counted from its metadata (never from values)."""

    secrets: int
    versions: int
    per_user: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"secrets": self.secrets, "versions": self.versions, "per_user": dict(sorted(self.per_user.items()))}

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Inventory:
        per_user = raw.get("per_user") or {}
        assert isinstance(per_user, Mapping)
        return cls(
            secrets=int(raw["secrets"]),  # type: ignore[call-overload]
            versions=int(raw["versions"]),  # type: ignore[call-overload]
            per_user={str(k): int(v) for k, v in per_user.items()},
        )

    def differences(self, other: Inventory) -> list[str]:
        """What differs between this (expected) and `other` (found), one line each; empty if equal."""
        lines = []
        if self.secrets != other.secrets:
            lines.append(f"secrets: expected {self.secrets}, found {other.secrets}")
        if self.versions != other.versions:
            lines.append(f"versions: expected {self.versions}, found {other.versions}")
        for user in sorted(set(self.per_user) | set(other.per_user)):
            expected, found = self.per_user.get(user, 0), other.per_user.get(user, 0)
            if expected != found:
                lines.append(f"user {user}: expected {expected} secrets, found {found}")
        return lines


@dataclass(frozen=True)
class SecretVersions:
    """The readable versions of one secret, oldest first, as read from a (scratch) Vault."""

    path: str
    versions: tuple[tuple[int, Mapping[str, SecretValue]], ...]
    custom_metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    created_at: datetime
    vault_version: str
    mount: str
    key_shares: int
    key_threshold: int
    inventory: Inventory
    files: Mapping[str, FileEntry]
    database: str  # "postgresql" (DATABASE_NAME holds a pg_dump -Fc), "sqlite" (a file copy), or a note

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": MANIFEST_FORMAT,
                "created_at": self.created_at.astimezone(UTC).isoformat(),
                "vault_version": self.vault_version,
                "mount": self.mount,
                "seal": {"key_shares": self.key_shares, "key_threshold": self.key_threshold},
                "inventory": self.inventory.to_json(),
                "files": {name: {"sha256": f.sha256, "bytes": f.bytes} for name, f in sorted(self.files.items())},
                "database": self.database,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            raw = json.loads(text)
            return cls(
                created_at=datetime.fromisoformat(raw["created_at"]),
                vault_version=str(raw["vault_version"]),
                mount=str(raw["mount"]),
                key_shares=int(raw["seal"]["key_shares"]),
                key_threshold=int(raw["seal"]["key_threshold"]),
                inventory=Inventory.from_json(raw["inventory"]),
                files={n: FileEntry(str(f["sha256"]), int(f["bytes"])) for n, f in raw["files"].items()},
                database=str(raw.get("database", "")),
            )
        except (ValueError, KeyError, TypeError, AssertionError) as exc:
            raise BackupCorrupt(f"the manifest is unreadable ({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True)
class BackupRecord:
    """One backup directory as found on disk."""

    path: Path
    created_at: datetime
    manifest: Manifest | None  # None: no readable manifest (an interrupted or foreign directory)


@dataclass(frozen=True)
class RetentionPolicy:
    """Spec, open question 8: daily snapshots kept 30 days; hourly ones kept 7 days when enabled.

    Kept: the newest backup of each UTC day younger than `daily_days`, the newest of each hour
    younger than `hourly_days` when `hourly` is on, and always the newest backup of all.
    """

    daily_days: int = 30
    hourly: bool = False
    hourly_days: int = 7

    def to_remove(self, backups: Sequence[BackupRecord], now: datetime) -> list[BackupRecord]:
        ordered = sorted(backups, key=lambda b: b.created_at, reverse=True)
        keep: set[Path] = set()
        if ordered:
            keep.add(ordered[0].path)
        days_seen: set[str] = set()
        hours_seen: set[str] = set()
        for backup in ordered:
            if backup.manifest is None:
                continue  # never delete what we can't identify as ours; `list` shows it
            age = now - backup.created_at
            day, hour = backup.created_at.strftime("%Y-%m-%d"), backup.created_at.strftime("%Y-%m-%dT%H")
            if age <= timedelta(days=self.daily_days) and day not in days_seen:
                days_seen.add(day)
                keep.add(backup.path)
            if self.hourly and age <= timedelta(days=self.hourly_days) and hour not in hours_seen:
                hours_seen.add(hour)
                keep.add(backup.path)
        return [b for b in ordered if b.manifest is not None and b.path not in keep]


Progress = Callable[[int], None]


class SnapshotSource(Protocol):
    """The live Vault, seen with the backup identity (snapshot + metadata, no values)."""

    def version(self) -> str: ...

    def seal_configuration(self) -> tuple[int, int]:
        """(key shares, threshold) of the cluster, for the restore's fresh init."""
        ...

    def snapshot_to(self, out: BinaryIO, progress: Progress | None = None) -> int: ...

    def inventory(self) -> Inventory: ...


class DatabaseDumper(Protocol):
    def dump(self, directory: Path) -> tuple[str, str | None]:
        """Dump the metadata database into `directory`: (kind or note, file name written or None)."""
        ...


class BackupStore(Protocol):
    """Where backups live (a directory on a volume); every file is written atomically."""

    def new_backup(self, created_at: datetime) -> Path: ...

    def write_atomically(self, path: Path, produce: Callable[[BinaryIO], object]) -> FileEntry: ...

    def checksum(self, path: Path) -> FileEntry: ...

    def list(self) -> list[BackupRecord]: ...

    def remove(self, backup: BackupRecord) -> None: ...


class BackupMetrics(Protocol):
    def record_success(self, manifest: Manifest) -> None:
        """Publish `mirage_backup_last_success_timestamp_seconds` (and size) for the alert."""
        ...


class RestoredStore(Protocol):
    """A Vault holding a restored snapshot, read with an identity that the snapshot holds."""

    def inventory(self) -> Inventory: ...

    def read_versions(self, path: str) -> SecretVersions: ...


class SnapshotRestorer(Protocol):
    """Puts a snapshot into a Vault cluster: a fresh one is initialised with the snapshot's seal
    configuration, the snapshot forced in, and the cluster unsealed with the original shares."""

    def restore(self, snapshot: Path, manifest: Manifest, original_shares: Sequence[str]) -> str:
        """Restore; returns a one-line account of what was done."""
        ...
