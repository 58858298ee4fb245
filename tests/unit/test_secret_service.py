"""SecretService on in-memory fakes: versions, metadata, deletion, rollback and isolation."""

from __future__ import annotations

import json

import pytest

from adapters.cache.memory import InProcessSecretCache
from domain.errors import (
    InvalidInput,
    ReservedKey,
    SecretNotFound,
    ValueTooLarge,
    VaultUnavailable,
    VersionConflict,
    VersionGone,
    VersionNotFound,
)
from domain.secrets import MAX_VALUE_BYTES
from domain.values import Principal, SecretValue
from services.secret_service import SecretService
from tests.fakes.index import InMemorySecretIndex, InMemoryUserDirectory
from tests.fakes.vault import MAX_VERSIONS, InMemorySecretVault, OneVaultForEveryone

pytestmark = pytest.mark.unit


ALICE = Principal(user_id="alice")
BOB = Principal(user_id="bob")
PATH = "users/alice/custom/db_password"


@pytest.fixture
def vault() -> InMemorySecretVault:
    return InMemorySecretVault()


@pytest.fixture
def index() -> InMemorySecretIndex:
    return InMemorySecretIndex()  # its own user set, so `users` below only sees `ensure`


@pytest.fixture
def users() -> InMemoryUserDirectory:
    return InMemoryUserDirectory()


@pytest.fixture
def cache() -> InProcessSecretCache:
    return InProcessSecretCache(retention_seconds=3600)


@pytest.fixture
def service(vault, index, users, cache, clock) -> SecretService:
    return SecretService(vaults=OneVaultForEveryone(vault), index=index, users=users, cache=cache, clock=clock)


async def store(service: SecretService, value: str = "s3cret-1", principal: Principal = ALICE, **kwargs):
    return await service.store(principal, key="db_password", value=SecretValue(value), **kwargs)


# -- store ---------------------------------------------------------------------------------------


async def test_first_store_creates_version_1_with_metadata_index_row_and_user_row(
    service, vault, index, users, clock
) -> None:
    stored = await store(service, tags=["prod", "db"], description="primary db")

    assert (stored.version, stored.previous_version) == (1, 0)
    assert vault.paths[PATH].current == 1
    assert vault.paths[PATH].custom == {
        "created_by": "alice",
        "created_at": clock.now.isoformat(),
        "secret_type": "custom",
        "tags": '["prod","db"]',
        "description": "primary db",
    }
    row = index.records[("alice", "db_password")]
    assert (row.current_version, row.secret_type, row.tags, row.deleted) == (1, "custom", ("prod", "db"), False)
    assert row.created_at == clock.now
    assert users.users == {"alice"}


async def test_storing_again_makes_version_2_and_keeps_creation_metadata(service, vault, index, clock) -> None:
    created = clock.now
    await store(service, "v1", tags=["prod"])
    clock.advance(minutes=30)
    stored = await store(service, "v2")

    assert (stored.version, stored.previous_version) == (2, 1)
    custom = vault.paths[PATH].custom
    assert (custom["created_at"], custom["created_by"]) == (created.isoformat(), "alice")
    assert json.loads(custom["tags"]) == ["prod"]  # not given: kept
    row = index.records[("alice", "db_password")]
    assert (row.current_version, row.created_at, row.updated_at) == (2, created, clock.now)
    assert (await service.get(ALICE, "db_password")).value == SecretValue("v2")


async def test_custom_type_is_stored(service, vault, index) -> None:
    await store(service, secret_type="api_key")
    assert vault.paths[PATH].custom["secret_type"] == "api_key"
    assert index.records[("alice", "db_password")].secret_type == "api_key"


async def test_stale_cas_is_a_conflict_and_writes_nothing(service, vault, index) -> None:
    await store(service, "v1")
    writes, row, custom = vault.writes, index.records[("alice", "db_password")], dict(vault.paths[PATH].custom)

    with pytest.raises(VersionConflict) as raised:
        await store(service, "v2", cas=0, tags=["changed"])

    assert raised.value.current_version == 1
    assert vault.writes == writes
    assert vault.paths[PATH].current == 1
    assert vault.paths[PATH].custom == custom
    assert index.records == {("alice", "db_password"): row}


async def test_matching_cas_writes(service) -> None:
    await store(service, "v1", cas=0)
    assert (await store(service, "v2", cas=1)).version == 2


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"key": "../bob"}, InvalidInput),
        ({"key": "a/b"}, InvalidInput),
        ({"key": "railway"}, ReservedKey),
        ({"key": "GitHub"}, ReservedKey),
        ({"value": SecretValue("")}, InvalidInput),
        ({"value": SecretValue("x" * (MAX_VALUE_BYTES + 1))}, ValueTooLarge),
        ({"tags": ["bad tag"]}, InvalidInput),
        ({"secret_type": "github_pat"}, InvalidInput),
        ({"description": "two\nlines"}, InvalidInput),
    ],
    ids=["dotdot", "slash", "reserved", "reserved-case", "empty", "too-large", "tag", "provider-type", "description"],
)
async def test_invalid_input_writes_nothing(service, vault, index, users, kwargs, error) -> None:
    args = {"key": "db_password", "value": SecretValue("ok")} | kwargs
    with pytest.raises(error):
        await service.store(ALICE, **args)
    assert (vault.writes, vault.paths, index.records, users.users) == (0, {}, {}, set())


# -- reads ---------------------------------------------------------------------------------------


async def test_get_returns_value_and_metadata(service, clock) -> None:
    await store(service, "v1", tags=["prod"], secret_type="api_key", description="d")
    view = await service.get(ALICE, "db_password")
    assert view.value.reveal() == "v1"
    assert (view.version, view.current_version) == (1, 1)
    assert (view.metadata.created_by, view.metadata.created_at) == ("alice", clock.now)
    assert (view.metadata.tags, view.metadata.secret_type, view.metadata.description) == (("prod",), "api_key", "d")


async def test_get_records_the_access_in_the_index(service, index, clock) -> None:
    await store(service)
    clock.advance(minutes=5)
    await service.get(ALICE, "db_password")
    assert index.records[("alice", "db_password")].last_accessed_at == clock.now


async def test_get_version_reads_an_older_value(service) -> None:
    await store(service, "v1")
    await store(service, "v2")
    view = await service.get_version(ALICE, "db_password", 1)
    assert (view.value.reveal(), view.version, view.current_version) == ("v1", 1, 2)


async def test_get_of_unknown_key_is_not_found(service) -> None:
    with pytest.raises(SecretNotFound):
        await service.get(ALICE, "nothing_here")


async def test_versions_are_newest_first(service) -> None:
    for n in range(3):
        await store(service, f"v{n}")
    history = await service.versions(ALICE, "db_password")
    assert history.current_version == 3
    assert [v.version for v in history.versions] == [3, 2, 1]


# -- delete --------------------------------------------------------------------------------------


async def test_delete_is_soft(service, vault, index, clock) -> None:
    await store(service, "v1")
    await store(service, "v2")
    clock.advance(minutes=10)

    kept = await service.delete(ALICE, "db_password")

    assert kept == 2
    with pytest.raises(SecretNotFound):
        await service.get(ALICE, "db_password")
    history = await service.versions(ALICE, "db_password")
    assert [(v.version, v.readable) for v in history.versions] == [(2, False), (1, True)]
    assert (await service.get_version(ALICE, "db_password", 1)).value.reveal() == "v1"
    row = index.records[("alice", "db_password")]
    assert (row.deleted, row.updated_at) == (True, clock.now)
    assert await service.list(ALICE) == []


async def test_deleting_twice_is_not_found(service) -> None:
    await store(service)
    await service.delete(ALICE, "db_password")
    with pytest.raises(SecretNotFound):
        await service.delete(ALICE, "db_password")


async def test_deleting_an_unknown_key_is_not_found(service, index) -> None:
    with pytest.raises(SecretNotFound):
        await service.delete(ALICE, "nothing_here")
    assert index.records == {}


async def test_storing_after_delete_revives_the_secret(service, index) -> None:
    await store(service, "v1")
    await service.delete(ALICE, "db_password")
    stored = await store(service, "v2")
    assert stored.version == 2
    assert (await service.get(ALICE, "db_password")).value.reveal() == "v2"
    assert index.records[("alice", "db_password")].deleted is False


# -- rollback ------------------------------------------------------------------------------------


async def test_rollback_writes_the_old_value_as_a_new_version(service, vault, index) -> None:
    await store(service, "v1")
    await store(service, "v2")

    done = await service.rollback(ALICE, "db_password", to_version=1)

    assert (done.new_version, done.restored_from) == (3, 1)
    view = await service.get(ALICE, "db_password")
    assert (view.value.reveal(), view.version) == ("v1", 3)
    assert index.records[("alice", "db_password")].current_version == 3


async def test_rollback_to_a_deleted_version_is_gone(service, vault) -> None:
    await store(service, "v1")
    await service.delete(ALICE, "db_password")
    await store(service, "v2")
    writes = vault.writes
    with pytest.raises(VersionGone):
        await service.rollback(ALICE, "db_password", to_version=1)
    assert vault.writes == writes


async def test_rollback_to_a_pruned_version_is_not_found(service, vault) -> None:
    for n in range(MAX_VERSIONS + 1):
        await store(service, f"v{n}")
    assert 1 not in vault.paths[PATH].versions
    writes = vault.writes
    with pytest.raises(VersionNotFound):
        await service.rollback(ALICE, "db_password", to_version=1)
    assert vault.writes == writes


async def test_rollback_to_a_future_version_is_not_found(service) -> None:
    await store(service, "v1")
    with pytest.raises(VersionNotFound):
        await service.rollback(ALICE, "db_password", to_version=7)


# -- metadata ------------------------------------------------------------------------------------


async def test_update_metadata_changes_tags_type_and_description_without_a_new_version(
    service, vault, index, clock
) -> None:
    created = clock.now
    await store(service, tags=["old"], description="before")
    clock.advance(minutes=3)

    updated, _ = await service.update_metadata(
        ALICE, "db_password", tags=["new", "prod"], secret_type="api_key", description="after"
    )

    assert (updated.tags, updated.secret_type, updated.description) == (("new", "prod"), "api_key", "after")
    assert (vault.writes, vault.paths[PATH].current) == (1, 1)
    custom = vault.paths[PATH].custom
    assert (custom["tags"], custom["secret_type"], custom["description"]) == ('["new","prod"]', "api_key", "after")
    assert custom["created_at"] == created.isoformat()
    row = index.records[("alice", "db_password")]
    assert (row.tags, row.secret_type, row.description, row.current_version) == (("new", "prod"), "api_key", "after", 1)
    assert row.updated_at == clock.now


async def test_update_metadata_can_clear_the_description(service, vault) -> None:
    await store(service, description="before")
    await service.update_metadata(ALICE, "db_password", description=None)
    assert "description" not in vault.paths[PATH].custom


async def test_update_metadata_leaves_unmentioned_fields(service, vault) -> None:
    await store(service, tags=["keep"], secret_type="api_key")
    await service.update_metadata(ALICE, "db_password", description="only this")
    custom = vault.paths[PATH].custom
    assert (custom["tags"], custom["secret_type"]) == ('["keep"]', "api_key")


async def test_update_metadata_of_a_deleted_secret_is_not_found(service, vault) -> None:
    await store(service, tags=["old"])
    await service.delete(ALICE, "db_password")
    with pytest.raises(SecretNotFound):
        await service.update_metadata(ALICE, "db_password", tags=["new"])
    assert vault.paths[PATH].custom["tags"] == '["old"]'


async def test_provider_secret_keeps_its_type(service, vault, index) -> None:
    await vault.write("users/alice/railway", {"token": SecretValue("rw-token")}, cas=0)

    with pytest.raises(InvalidInput):
        await service.update_metadata(ALICE, "railway", secret_type="api_key")

    assert vault.paths["users/alice/railway"].custom == {}
    assert index.records == {}


async def test_provider_secret_tags_can_change(service, vault) -> None:
    await vault.write("users/alice/railway", {"token": SecretValue("rw-token")}, cas=0)
    updated, _ = await service.update_metadata(ALICE, "railway", tags=["ci"])
    assert (updated.secret_type, updated.tags) == ("railway_token", ("ci",))
    assert (await service.get(ALICE, "railway")).value.reveal() == "rw-token"


async def test_update_metadata_with_bad_tags_writes_nothing(service, vault) -> None:
    await store(service, tags=["old"])
    with pytest.raises(InvalidInput):
        await service.update_metadata(ALICE, "db_password", tags=["bad tag"])
    assert vault.paths[PATH].custom["tags"] == '["old"]'


# -- isolation -----------------------------------------------------------------------------------


async def test_principals_never_see_each_others_secrets(service, vault) -> None:
    await store(service, "alice-value", principal=ALICE)

    assert await service.list(BOB) == []
    with pytest.raises(SecretNotFound):
        await service.get(BOB, "db_password")
    with pytest.raises(SecretNotFound):
        await service.get_version(BOB, "db_password", 1)
    with pytest.raises(SecretNotFound):
        await service.versions(BOB, "db_password")
    with pytest.raises(SecretNotFound):
        await service.delete(BOB, "db_password")

    assert (await service.get(ALICE, "db_password")).value.reveal() == "alice-value"
    assert [r.key for r in await service.list(ALICE)] == ["db_password"]


async def test_same_key_for_two_principals_is_two_secrets(service, vault) -> None:
    await store(service, "alice-value", principal=ALICE)
    await store(service, "bob-value", principal=BOB)
    await service.delete(BOB, "db_password")

    assert (await service.get(ALICE, "db_password")).value.reveal() == "alice-value"
    assert set(vault.paths) == {PATH, "users/bob/custom/db_password"}
    assert [r.user_id for r in await service.list(ALICE)] == ["alice"]


async def test_list_filters_by_tag_and_type(service) -> None:
    await service.store(ALICE, key="a_key", value=SecretValue("x"), tags=["prod"], secret_type="api_key")
    await service.store(ALICE, key="b_key", value=SecretValue("x"), tags=["dev"])
    assert [r.key for r in await service.list(ALICE, tags=["prod"])] == ["a_key"]
    assert [r.key for r in await service.list(ALICE, secret_type="custom")] == ["b_key"]


# -- outages -------------------------------------------------------------------------------------


async def test_vault_outage_on_store(service, vault, index) -> None:
    vault.available = False
    with pytest.raises(VaultUnavailable):
        await store(service)
    assert (vault.paths, index.records) == ({}, {})


async def test_vault_outage_on_get(service, vault, index) -> None:
    await store(service)
    row = index.records[("alice", "db_password")]
    vault.available = False
    with pytest.raises(VaultUnavailable):
        await service.get(ALICE, "db_password")
    assert index.records == {("alice", "db_password"): row}
