"""The same assertions against the in-memory fake, the hvac adapter and the aiohttp KV adapter
on a real OpenBao."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import pytest_asyncio

from adapters.vault.kv_http import KvHttpSecretVault, new_http_session
from domain.errors import SecretNotFound, VersionConflict, VersionGone, VersionNotFound
from domain.values import SecretValue
from tests.fakes.vault import InMemorySecretVault

pytestmark = pytest.mark.contract

MOUNT = "mirage"


@pytest_asyncio.fixture
async def kv_http_vault(openbao):
    vault = KvHttpSecretVault(
        addr=openbao.addr,
        mount=MOUNT,
        token=lambda: openbao.root_token,
        session=new_http_session(),
        owns_session=True,
    )
    yield vault
    await vault.close()


@pytest.fixture(params=["fake", "openbao", "kv_http"])
def vault(request):
    if request.param == "fake":
        return InMemorySecretVault()
    if request.param == "kv_http":
        return request.getfixturevalue("kv_http_vault")
    return request.getfixturevalue("hvac_vault")


def _path() -> str:
    return f"users/contract-{uuid.uuid4().hex[:8]}/custom/k"


def v(text: str) -> dict[str, SecretValue]:
    return {"value": SecretValue(text)}


async def test_write_then_read_latest_and_by_version(vault):
    path = _path()
    first = await vault.write(path, v("one"), cas=0)
    second = await vault.write(path, v("two"), cas=1)
    assert (first.version, second.version) == (1, 2)
    assert (await vault.read(path)).data["value"].reveal() == "two"
    assert (await vault.read(path, version=1)).data["value"].reveal() == "one"


async def test_a_read_carries_the_custom_metadata(vault):
    path = _path()
    await vault.write(path, v("one"), cas=0)
    await vault.set_custom_metadata(path, {"secret_type": "custom"})
    entry = await vault.read(path)
    assert entry.custom == {"secret_type": "custom"}


async def test_missing_secret_and_missing_version(vault):
    path = _path()
    with pytest.raises(SecretNotFound):
        await vault.read(path)
    assert await vault.read_metadata(path) is None
    await vault.write(path, v("one"), cas=0)
    with pytest.raises(VersionNotFound):
        await vault.read(path, version=7)


async def test_check_and_set_refuses_a_stale_version_and_writes_nothing(vault):
    path = _path()
    await vault.write(path, v("one"), cas=0)
    with pytest.raises(VersionConflict):
        await vault.write(path, v("stale"), cas=0)
    with pytest.raises(VersionConflict):
        await vault.write(path, v("future"), cas=5)
    assert (await vault.read(path)).data["value"].reveal() == "one"
    assert (await vault.read_metadata(path)).current_version == 1


async def test_concurrent_writers_with_the_same_cas_exactly_one_wins(vault):
    path = _path()
    await vault.write(path, v("base"), cas=0)
    results = await asyncio.gather(*(vault.write(path, v(f"w{i}"), cas=1) for i in range(5)), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, VersionConflict) for r in results if isinstance(r, Exception))
    assert (await vault.read_metadata(path)).current_version == 2


async def test_versions_past_ten_are_pruned(vault):
    path = _path()
    for i in range(12):
        await vault.write(path, v(f"value-{i + 1}"), cas=i)
    metadata = await vault.read_metadata(path)
    assert metadata.current_version == 12
    assert [info.version for info in metadata.versions] == list(range(3, 13))
    with pytest.raises(VersionNotFound):
        await vault.read(path, version=2)
    assert (await vault.read(path, version=3)).data["value"].reveal() == "value-3"


async def test_soft_delete_hides_latest_but_keeps_history(vault):
    path = _path()
    await vault.write(path, v("one"), cas=0)
    await vault.write(path, v("two"), cas=1)
    await vault.soft_delete(path)
    with pytest.raises(SecretNotFound):
        await vault.read(path)
    with pytest.raises(VersionGone):
        await vault.read(path, version=2)
    assert (await vault.read(path, version=1)).data["value"].reveal() == "one"
    metadata = await vault.read_metadata(path)
    assert metadata.current_version == 2 and not metadata.is_live
    assert metadata.version(2).deleted_at is not None
    # A write after a delete continues the history.
    assert (await vault.write(path, v("three"), cas=2)).version == 3


async def test_custom_metadata_round_trips_and_is_replaced_whole(vault):
    path = _path()
    await vault.write(path, v("one"), cas=0)
    await vault.set_custom_metadata(path, {"secret_type": "custom", "tags": '["a","b"]'})
    assert (await vault.read_metadata(path)).custom == {"secret_type": "custom", "tags": '["a","b"]'}
    await vault.set_custom_metadata(path, {"secret_type": "api_key"})
    assert (await vault.read_metadata(path)).custom == {"secret_type": "api_key"}


async def test_health_reports_an_unsealed_server(vault):
    health = await vault.health()
    assert health.reachable and not health.sealed


async def test_undelete_brings_a_deleted_version_back_and_destroy_removes_everything(vault):
    path = _path()
    await vault.write(path, v("one"), cas=0)
    await vault.soft_delete(path)
    with pytest.raises(SecretNotFound):
        await vault.read(path)
    await vault.undelete(path, 1)
    assert (await vault.read(path)).data["value"].reveal() == "one"
    await vault.destroy(path)
    assert await vault.read_metadata(path) is None
    await vault.destroy(path)  # idempotent
