"""The read path's cache: fresh hits skip Vault, writes invalidate, stale values only in an outage."""

from __future__ import annotations

import time

import pytest

from adapters.cache.memory import InProcessSecretCache
from domain.errors import SecretNotFound, StorageUnavailable, VaultUnavailable
from domain.values import Principal, SecretValue
from services.secret_service import CachePolicy, SecretService
from tests.fakes.index import InMemorySecretIndex, InMemoryUserDirectory
from tests.fakes.vault import InMemorySecretVault, OneVaultForEveryone

pytestmark = pytest.mark.unit


ALICE = Principal("alice")
PATH = "users/alice/custom/token"


class Epoch:
    def __init__(self) -> None:
        self.now = time.time()  # the cache's own retention is checked against the real clock

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def vault() -> InMemorySecretVault:
    return InMemorySecretVault()


@pytest.fixture
def epoch() -> Epoch:
    return Epoch()


DEFAULT_POLICY = CachePolicy(ttl_seconds=300, max_stale_seconds=3600)


def make_service(vault, epoch, policy: CachePolicy = DEFAULT_POLICY) -> SecretService:
    return SecretService(
        vaults=OneVaultForEveryone(vault),
        index=InMemorySecretIndex(),
        users=InMemoryUserDirectory(),
        cache=InProcessSecretCache(retention_seconds=max(policy.max_stale_seconds, 1)),
        cache_policy=policy,
        epoch_clock=epoch,
    )


async def change_behind_the_cache(vault: InMemorySecretVault, value: str) -> None:
    current = (await vault.read_metadata(PATH)).current_version
    await vault.write(PATH, {"value": SecretValue(value)}, cas=current)


async def test_a_fresh_entry_is_served_without_vault_and_expires_after_the_ttl(vault, epoch):
    service = make_service(vault, epoch)
    await service.store(ALICE, key="token", value=SecretValue("one"))
    assert (await service.get(ALICE, "token")).value.reveal() == "one"
    await change_behind_the_cache(vault, "two")
    epoch.now += 299
    assert (await service.get(ALICE, "token")).value.reveal() == "one"
    epoch.now += 2
    assert (await service.get(ALICE, "token")).value.reveal() == "two"


async def test_every_write_invalidates(vault, epoch):
    service = make_service(vault, epoch)
    await service.store(ALICE, key="token", value=SecretValue("one"))
    await service.get(ALICE, "token")
    await service.store(ALICE, key="token", value=SecretValue("two"))
    assert (await service.get(ALICE, "token")).value.reveal() == "two"
    await service.rollback(ALICE, "token", to_version=1)
    assert (await service.get(ALICE, "token")).value.reveal() == "one"
    await service.update_metadata(ALICE, "token", tags=["x"])
    assert (await service.get(ALICE, "token")).metadata.tags == ("x",)
    await service.delete(ALICE, "token")
    with pytest.raises(SecretNotFound):
        await service.get(ALICE, "token")


async def test_vault_outage_serves_a_stale_value_flagged_until_max_stale(vault, epoch):
    service = make_service(vault, epoch)
    await service.store(ALICE, key="token", value=SecretValue("one"))
    await service.get(ALICE, "token")
    vault.available = False
    epoch.now += 600
    view = await service.get(ALICE, "token")
    assert (view.value.reveal(), view.stale_seconds) == ("one", 600)
    epoch.now += 3000
    with pytest.raises(VaultUnavailable):
        await service.get(ALICE, "token")


async def test_an_uncached_secret_during_an_outage_is_unavailable(vault, epoch):
    service = make_service(vault, epoch)
    await service.store(ALICE, key="token", value=SecretValue("one"))
    vault.available = False
    with pytest.raises(VaultUnavailable):
        await service.get(ALICE, "token")


async def test_with_the_cache_off_every_read_goes_to_vault(vault, epoch):
    service = make_service(vault, epoch, CachePolicy(ttl_seconds=0, max_stale_seconds=0))
    await service.store(ALICE, key="token", value=SecretValue("one"))
    await service.get(ALICE, "token")
    await change_behind_the_cache(vault, "two")
    assert (await service.get(ALICE, "token")).value.reveal() == "two"
    vault.available = False
    with pytest.raises(VaultUnavailable):
        await service.get(ALICE, "token")


async def test_a_change_that_fails_half_way_still_drops_the_cached_value(vault, epoch):
    users = InMemoryUserDirectory()
    service = SecretService(
        vaults=OneVaultForEveryone(vault),
        index=InMemorySecretIndex(),
        users=users,
        cache=InProcessSecretCache(),
        epoch_clock=epoch,
    )
    await service.store(ALICE, key="token", value=SecretValue("one"))
    await service.get(ALICE, "token")
    users.available = False  # Vault takes the new value, then the first database step fails
    with pytest.raises(StorageUnavailable):
        await service.store(ALICE, key="token", value=SecretValue("two"))
    users.available = True
    assert (await service.get(ALICE, "token")).value.reveal() == "two"
