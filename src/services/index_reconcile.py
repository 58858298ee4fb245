"""`index reconcile`: make the database index say what Vault says, and report each change.

Vault is the source of truth: a secret in Vault and not in the index is added; one whose type,
tags, description, current version, liveness, expiry or rotation period differ is corrected; a live row with no live
secret in Vault is marked deleted. Environments (`users/{id}/env_vars/*`) are not in this index.
Only metadata is read, never a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from domain.ports import SecretVault
from domain.reconcile import IndexRepair, SecretCatalog
from domain.secrets import DOCKER_KEY_PREFIX, SecretMetadata, SecretRecord, SecretType, VaultMetadata

_PROVIDER_KEYS = {"railway": SecretType.RAILWAY_TOKEN, "github": SecretType.GITHUB_PAT}


@dataclass
class ReconcileReport:
    checked: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    marked_deleted: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.added) + len(self.updated) + len(self.marked_deleted)

    def lines(self, *, dry_run: bool) -> list[str]:
        verb = "would be" if dry_run else "were"
        lines = [f"checked {self.checked} secrets in Vault"]
        for label, items in (("added", self.added), ("updated", self.updated), ("marked deleted", self.marked_deleted)):
            lines.append(f"{len(items)} {verb} {label}" + (": " + ", ".join(items) if items else ""))
        return lines


def index_key(path: str) -> tuple[str, str, SecretType] | None:
    """`users/alice/custom/db` -> ("alice", "db", custom); None for paths outside the index."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "users":
        return None
    user, rest = parts[1], parts[2:]
    if rest[0] == "custom" and len(rest) == 2:
        return user, rest[1], SecretType.CUSTOM
    if len(rest) == 1 and rest[0] in _PROVIDER_KEYS:
        return user, rest[0], _PROVIDER_KEYS[rest[0]]
    if rest[0] == "docker" and len(rest) == 2:
        return user, DOCKER_KEY_PREFIX + rest[1], SecretType.DOCKER_CREDENTIALS
    return None


class IndexReconciler:
    def __init__(self, *, vault: SecretVault, catalog: SecretCatalog, index: IndexRepair) -> None:
        self._vault = vault
        self._catalog = catalog
        self._index = index

    async def reconcile(self, *, dry_run: bool = False) -> ReconcileReport:
        report = ReconcileReport()
        in_vault: dict[tuple[str, str], SecretRecord] = {}
        for path in await self._catalog.paths():
            located = index_key(path)
            if located is None:
                continue
            user, key, default_type = located
            metadata = await self._vault.read_metadata(path)
            if metadata is None:
                continue
            report.checked += 1
            in_vault[(user, key)] = _record(user, key, default_type, metadata)
        users = {user for user, _ in in_vault} | set(await self._index.users())
        for user in sorted(users):
            rows = {row.key: row for row in await self._index.records(user)}
            for (owner, key), wanted in sorted(in_vault.items()):
                if owner != user:
                    continue
                row = rows.get(key)
                name = f"{user}/{key}"
                if row is None:
                    if wanted.deleted:
                        continue  # a deleted secret the index never knew: nothing to list
                    report.added.append(name)
                elif _differs(row, wanted):
                    (report.marked_deleted if wanted.deleted and not row.deleted else report.updated).append(name)
                else:
                    continue
                if not dry_run:
                    if row is not None:  # the index's own facts: when it was read, why it was deleted
                        wanted = replace(
                            wanted, last_accessed_at=row.last_accessed_at, deleted_reason=row.deleted_reason
                        )
                    await self._index.replace(wanted)
            for key, row in sorted(rows.items()):
                if (user, key) not in in_vault and not row.deleted:
                    report.marked_deleted.append(f"{user}/{key}")
                    if not dry_run:
                        now = datetime.now(UTC)
                        await self._index.replace(replace(row, deleted=True, updated_at=now, deleted_at=now))
        return report


def _record(user: str, key: str, default_type: SecretType, metadata: VaultMetadata) -> SecretRecord:
    fallback = SecretMetadata(created_by=user, created_at=metadata.created_at, secret_type=default_type.value)
    decoded = SecretMetadata.from_vault(metadata.custom, fallback=fallback) if metadata.custom else fallback
    return SecretRecord(
        user_id=user,
        key=key,
        secret_type=decoded.secret_type,
        tags=decoded.tags,
        description=decoded.description,
        created_at=decoded.created_at,
        updated_at=metadata.updated_at,
        current_version=metadata.current_version,
        deleted=not metadata.is_live,
        expires_at=decoded.expires_at,
        rotate_every_days=decoded.rotate_every_days,
        version_created_at=metadata.current.created_at if metadata.current else None,
        provider_expires_at=decoded.provider_expires_at,
        deleted_at=(metadata.current.deleted_at if metadata.current else None) if not metadata.is_live else None,
    )


def _compared(record: SecretRecord) -> tuple[object, ...]:
    """What reconcile corrects (Vault's say); access times and deletion reasons are the index's own."""
    return (
        record.secret_type,
        tuple(record.tags),
        record.description,
        record.current_version,
        record.deleted,
        record.expires_at,
        record.rotate_every_days,
        record.provider_expires_at,
    )


def _differs(row: SecretRecord, wanted: SecretRecord) -> bool:
    return _compared(row) != _compared(wanted)
