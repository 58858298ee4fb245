"""`index reconcile` on fakes: Vault wins; the report names each change; a dry run changes nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from domain.secrets import SecretMetadata, SecretRecord
from domain.values import SecretValue
from services.index_reconcile import IndexReconciler, index_key
from tests.fakes.vault import InMemorySecretVault

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)
EXPIRY = datetime(2027, 1, 1, tzinfo=UTC)


class _Catalog:
    def __init__(self, vault: InMemorySecretVault) -> None:
        self._vault = vault

    async def paths(self) -> list[str]:
        return sorted(p for p in self._vault.paths if p.startswith("users/"))


class _Index:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], SecretRecord] = {}

    async def users(self) -> list[str]:
        return sorted({user for user, _ in self.rows})

    async def records(self, user_id: str) -> list[SecretRecord]:
        return [row for (user, _), row in self.rows.items() if user == user_id]

    async def replace(self, record: SecretRecord) -> None:
        self.rows[(record.user_id, record.key)] = record


def _row(user: str, key: str, version: int, **changes) -> SecretRecord:
    record = SecretRecord(
        user_id=user, key=key, secret_type="custom", tags=(), created_at=T0, updated_at=T0, current_version=version
    )
    return replace(record, **changes)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("users/ann/custom/db", ("ann", "db", "custom")),
        ("users/ann/railway", ("ann", "railway", "railway_token")),
        ("users/ann/docker/ghcr.io", ("ann", "docker/ghcr.io", "docker_credentials")),
        ("users/ann/env_vars/prod", None),
        ("service/cache-key", None),
    ],
)
def test_paths_map_to_index_keys(path, expected):
    located = index_key(path)
    assert (located[0], located[1], located[2].value) == expected if expected else located is None


async def test_vault_wins_and_each_change_is_reported():
    vault = InMemorySecretVault()
    for n in range(3):
        written = await vault.write("users/ann/custom/db", {"value": SecretValue(f"v{n}")}, cas=n)
    assert written.version == 3
    await vault.write("users/ann/custom/new", {"value": SecretValue("x")}, cas=0)
    expiring = SecretMetadata(
        created_by="ann", created_at=T0, secret_type="custom", expires_at=EXPIRY, rotate_every_days=30
    )
    await vault.set_custom_metadata("users/ann/custom/new", expiring.to_vault())
    await vault.write("users/bob/custom/gone", {"value": SecretValue("x")}, cas=0)
    await vault.soft_delete("users/bob/custom/gone")
    index = _Index()
    index.rows[("ann", "db")] = _row("ann", "db", 5, last_accessed_at=T0)  # ahead of a restored Vault
    index.rows[("bob", "gone")] = _row("bob", "gone", 1)
    index.rows[("cy", "orphan")] = _row("cy", "orphan", 2)  # not in Vault at all
    reconciler = IndexReconciler(vault=vault, catalog=_Catalog(vault), index=index)

    dry = await reconciler.reconcile(dry_run=True)
    assert (dry.added, dry.updated, dry.marked_deleted) == (["ann/new"], ["ann/db"], ["bob/gone", "cy/orphan"])
    assert index.rows[("ann", "db")].current_version == 5  # unchanged by the dry run
    assert "1 would be added: ann/new" in dry.lines(dry_run=True)

    report = await reconciler.reconcile()
    assert report.changes == 4 and report.checked == 3
    assert index.rows[("ann", "db")].current_version == 3 and index.rows[("ann", "db")].last_accessed_at == T0
    assert index.rows[("ann", "new")].deleted is False
    assert (index.rows[("ann", "new")].expires_at, index.rows[("ann", "new")].rotate_every_days) == (EXPIRY, 30)
    assert index.rows[("cy", "orphan")].deleted_at is not None
    assert index.rows[("bob", "gone")].deleted and index.rows[("cy", "orphan")].deleted

    again = await reconciler.reconcile()
    assert again.changes == 0
