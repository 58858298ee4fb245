"""A store is metadata, value, user row, index row: the failure of any step leaves nothing visible.

Each test makes exactly one step fail on the in-memory fakes and checks what a reader would see:
no readable value, nothing listed, and the earlier metadata back in place.
"""

from __future__ import annotations

import pytest

from adapters.cache.memory import InProcessSecretCache
from domain.errors import InvalidInput, SecretNotFound, StorageUnavailable, VaultUnavailable, VersionConflict
from domain.values import Principal, SecretValue
from services.secret_service import SecretService
from tests.fakes.index import InMemorySecretIndex, InMemoryUserDirectory
from tests.fakes.vault import InMemorySecretVault, OneVaultForEveryone

pytestmark = pytest.mark.unit

ALICE = Principal(user_id="alice")
PATH = "users/alice/custom/k"


class StepFailingVault(InMemorySecretVault):
    """Fails the named operation (once armed) the way Vault's adapter would: VaultUnavailable."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_on: str | None = None

    def _maybe_fail(self, operation: str) -> None:
        if self.fail_on == operation:
            raise VaultUnavailable(f"injected failure of {operation}")

    async def set_custom_metadata(self, path, custom):
        self._maybe_fail("set_custom_metadata")
        await super().set_custom_metadata(path, custom)

    async def write(self, path, data, *, cas):
        self._maybe_fail("write")
        return await super().write(path, data, cas=cas)


@pytest.fixture
def vault() -> StepFailingVault:
    return StepFailingVault()


@pytest.fixture
def users() -> InMemoryUserDirectory:
    return InMemoryUserDirectory()


@pytest.fixture
def index() -> InMemorySecretIndex:
    return InMemorySecretIndex()


@pytest.fixture
def service(vault, index, users) -> SecretService:
    cache = InProcessSecretCache(retention_seconds=3600)
    return SecretService(vaults=OneVaultForEveryone(vault), index=index, users=users, cache=cache)


async def _store(service, value="v1", **kwargs):
    return await service.store(ALICE, key="k", value=SecretValue(value), **kwargs)


async def _assert_invisible(service) -> None:
    with pytest.raises(SecretNotFound):
        await service.get(ALICE, "k")
    assert await service.list(ALICE) == []


@pytest.mark.parametrize("step", ["set_custom_metadata", "write"])
async def test_a_failed_vault_step_of_a_first_store_leaves_nothing_readable(service, vault, step):
    vault.fail_on = step
    with pytest.raises(VaultUnavailable):
        await _store(service, description="first")
    vault.fail_on = None
    await _assert_invisible(service)
    stored = vault.paths.get(PATH)
    assert stored is None or not any(info.readable for info, _ in stored.versions.values())


@pytest.mark.parametrize("failing", ["users", "index"])
async def test_a_failed_database_step_of_a_first_store_soft_deletes_the_new_version(
    service, vault, index, users, failing
):
    (users if failing == "users" else index).available = False
    with pytest.raises(StorageUnavailable):
        await _store(service)
    users.available = index.available = True
    await _assert_invisible(service)
    # The key is usable again at once: the next store revives it and lists it.
    await _store(service, value="v2")
    assert (await service.get(ALICE, "k")).value == SecretValue("v2")
    assert [r.key for r in await service.list(ALICE)] == ["k"]


async def test_a_failed_value_write_puts_the_previous_metadata_back(service, vault):
    await _store(service, description="before", tags=["a"])
    vault.fail_on = "write"
    with pytest.raises(VaultUnavailable):
        await _store(service, value="v2", description="after", tags=["b"])
    vault.fail_on = None
    view = await service.get(ALICE, "k")
    assert view.value == SecretValue("v1") and view.version == 1
    assert view.metadata.description == "before" and view.metadata.tags == ("a",)


async def test_a_failed_metadata_write_on_an_existing_secret_changes_nothing(service, vault):
    await _store(service, description="before")
    vault.fail_on = "set_custom_metadata"
    with pytest.raises(VaultUnavailable):
        await _store(service, value="v2", description="after")
    vault.fail_on = None
    view = await service.get(ALICE, "k")
    assert (view.value, view.version, view.metadata.description) == (SecretValue("v1"), 1, "before")


async def test_a_stale_cas_writes_no_metadata(service, vault):
    await _store(service, description="before")
    with pytest.raises(VersionConflict) as conflict:
        await _store(service, value="v2", description="after", cas=0)
    assert conflict.value.current_version == 1
    assert (await service.get(ALICE, "k")).metadata.description == "before"


async def test_invalid_input_is_refused_before_any_vault_call(service, vault):
    vault.fail_on = "set_custom_metadata"  # any write attempt would turn this into a 503
    with pytest.raises(InvalidInput):
        await _store(service, description="a\u007fb")
    assert vault.paths == {}


async def test_a_plain_store_of_a_value_alone_does_not_rewrite_unchanged_metadata(service, vault):
    await _store(service, description="kept")
    vault.fail_on = "set_custom_metadata"  # would fail the store if it were written again
    stored = await _store(service, value="v2")
    assert stored.version == 2
