"""The cleanup pass on in-memory fakes: expire, restore by rollback, destroy after the window,
warnings once per threshold, the gauge, the lock, and Vault's word over the index's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.cache.memory import InProcessSecretCache
from domain.audit import AuditAction, AuditQuery
from domain.errors import SecretNotFound
from domain.lifecycle import SecretExpired
from domain.values import Principal, SecretValue
from services.audit_trail import AuditTrail
from services.secret_lifecycle import CLEANUP_LOCK, SecretCleanupService
from services.secret_service import CachePolicy, SecretService
from tests.fakes.audit import InMemoryAuditLog
from tests.fakes.index import InMemoryJobLock, InMemorySecretIndex, InMemorySecretLifecycleIndex
from tests.fakes.vault import InMemorySecretVault, OneVaultForEveryone

pytestmark = pytest.mark.unit

ALICE = Principal(user_id="alice")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class World:
    def __init__(self) -> None:
        self.clock = Clock()
        self.vault = InMemorySecretVault()
        self.index = InMemorySecretIndex()
        self.audit = InMemoryAuditLog()
        self.lock = InMemoryJobLock()
        self.gauge: list[int] = []
        cache = InProcessSecretCache(retention_seconds=60)
        self.secrets = SecretService(
            vaults=OneVaultForEveryone(self.vault),
            index=self.index,
            users=self.index.user_directory,
            cache=cache,
            clock=self.clock,
            cache_policy=CachePolicy(ttl_seconds=0),  # every read asks Vault: what the pass did shows
        )
        self.cleanup = SecretCleanupService(
            vault=self.vault,
            index=InMemorySecretLifecycleIndex(self.index),
            cache=cache,
            trail=AuditTrail(self.audit),
            lock=self.lock,
            recovery=timedelta(days=30),
            clock=self.clock,
            report_expiring=self.gauge.append,
        )

    async def events(self, action: AuditAction) -> list:
        page = await self.audit.query(AuditQuery(subject_user_id="alice", action=action, limit=100))
        return list(page.events)


@pytest.fixture
def world() -> World:
    return World()


async def test_expire_restore_and_destroy(world):
    await world.secrets.store(ALICE, key="temp", value=SecretValue("v-1"), ttl="1h")
    world.clock.now += timedelta(hours=2)
    with pytest.raises(SecretExpired):
        await world.secrets.get(ALICE, "temp")

    preview = await world.cleanup.run(dry_run=True)
    assert [i.key for i in preview.expired] == ["temp"] and await world.events(AuditAction.EXPIRE) == []

    report = await world.cleanup.run()
    assert [i.key for i in report.expired] == ["temp"] and report.failed == []
    with pytest.raises(SecretNotFound):
        await world.secrets.get(ALICE, "temp")
    [expired] = await world.events(AuditAction.EXPIRE)
    assert (expired.actor_id, expired.subject_user_id, expired.secret_key) == ("system", "alice", "temp")
    assert (await world.cleanup.run()).expired == []  # nothing twice

    restored = await world.secrets.rollback(ALICE, "temp", to_version=1)
    assert (await world.secrets.get(ALICE, "temp")).value.reveal() == "v-1" and restored.new_version == 2

    await world.secrets.update_metadata(ALICE, "temp", ttl="1m")
    world.clock.now += timedelta(minutes=2)
    await world.cleanup.run()
    world.clock.now += timedelta(days=29)
    assert (await world.cleanup.run()).destroyed == []  # still inside the window
    world.clock.now += timedelta(days=2)
    report = await world.cleanup.run()
    assert [i.key for i in report.destroyed] == ["temp"]
    assert await world.vault.read_metadata("users/alice/custom/temp") is None
    assert await world.index.get("alice", "temp") is None
    assert len(await world.events(AuditAction.DESTROY)) == 1


async def test_vault_has_the_last_word_and_a_failure_is_retried(world):
    await world.secrets.store(ALICE, key="k", value=SecretValue("v"), ttl="1h")
    # The index says expired, Vault's metadata says otherwise (changed behind the index's back).
    path = "users/alice/custom/k"
    custom = dict((await world.vault.read_metadata(path)).custom)
    custom["ttl_expires_at"] = (world.clock.now + timedelta(days=5)).isoformat()
    await world.vault.set_custom_metadata(path, custom)
    world.clock.now += timedelta(hours=2)
    report = await world.cleanup.run()
    assert report.expired == [] and not (await world.index.get("alice", "k")).deleted

    await world.secrets.update_metadata(ALICE, "k", ttl="1m")
    world.clock.now += timedelta(minutes=5)
    world.vault.available = False
    report = await world.cleanup.run()
    assert [i.key for i in report.failed] == ["k"] and not (await world.index.get("alice", "k")).deleted
    world.vault.available = True
    assert [i.key for i in (await world.cleanup.run()).expired] == ["k"]


async def test_warnings_once_per_threshold_and_the_gauge(world):
    await world.secrets.store(ALICE, key="cert", value=SecretValue("pem"), ttl="10d")
    await world.secrets.store(ALICE, key="far", value=SecretValue("x"), ttl="90d")
    first = await world.cleanup.run()
    assert [(i.key, i.detail) for i in first.warned] == [("cert", "ttl expiry within 14 days")]
    assert (await world.cleanup.run()).warned == []
    world.clock.now += timedelta(days=4)
    assert [i.detail for i in (await world.cleanup.run()).warned] == ["ttl expiry within 7 days"]
    world.clock.now += timedelta(days=5, hours=12)
    assert [i.detail for i in (await world.cleanup.run()).warned] == ["ttl expiry within 1 days"]
    assert len(await world.events(AuditAction.EXPIRY_WARNING)) == 3
    assert world.gauge[0] == 0 and world.gauge[-1] == 1  # cert, within 7 days since the second pass


async def test_a_second_runner_waits_its_turn(world):
    async with world.lock.hold(CLEANUP_LOCK):
        report = await world.cleanup.run()
    assert report.skipped and report.lines() == ["another instance is running the cleanup pass; nothing done"]
