"""One set of assertions for every `SecretIndex`/`UserDirectory`: the fake, SQLite, PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from adapters.db.engine import create_database
from adapters.db.repositories import SqlSecretIndex, SqlUserDirectory
from domain.errors import StorageUnavailable
from domain.secrets import SecretRecord
from tests.fakes.index import InMemorySecretIndex, InMemoryUserDirectory

pytestmark = pytest.mark.contract


T0 = datetime(2025, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def record(user_id: str = "alice", key: str = "db-password", **changes) -> SecretRecord:
    fields = {
        "secret_type": "custom",
        "tags": ("prod",),
        "created_at": T0,
        "updated_at": T0,
        "current_version": 1,
        "description": "primary database",
    }
    fields.update(changes)
    return SecretRecord(user_id=user_id, key=key, **fields)


async def keys(harness, user_id: str = "alice", **filters) -> list[str]:
    return [r.key for r in await harness.index.list(user_id, **filters)]


async def test_upsert_then_get_returns_the_record_and_creates_the_user(harness):
    stored = record(tags=("prod", "db"))
    await harness.index.upsert(stored)

    assert await harness.index.get("alice", "db-password") == stored
    assert await harness.index.get("alice", "other") is None
    assert await harness.count_users("alice") == 1


async def test_upsert_updates_in_place_and_revives_a_deleted_row(harness):
    await harness.index.upsert(record())
    await harness.index.mark_deleted("alice", "db-password", T0 + timedelta(minutes=1))
    deleted = await harness.index.get("alice", "db-password")
    assert deleted is not None and deleted.deleted
    assert deleted.updated_at == T0 + timedelta(minutes=1)
    assert await keys(harness) == []

    later = T0 + timedelta(hours=1)
    await harness.index.upsert(
        record(
            secret_type="database",
            tags=("staging",),
            description=None,
            current_version=2,
            created_at=later,  # ignored on update: the row keeps when it was first indexed
            updated_at=later,
        )
    )

    got = await harness.index.get("alice", "db-password")
    assert got == record(
        secret_type="database", tags=("staging",), description=None, current_version=2, updated_at=later
    )
    assert not got.deleted
    assert await keys(harness) == ["db-password"]
    assert await harness.count_rows("alice") == 1


async def test_an_older_version_never_overwrites_a_newer_one(harness):
    await harness.index.upsert(record(current_version=3, tags=("new",)))
    await harness.index.upsert(record(current_version=2, tags=("old",)))
    current = await harness.index.get("alice", "db-password")
    assert (current.current_version, current.tags) == (3, ("new",))
    await harness.index.upsert(record(current_version=3, tags=("relabelled",)))
    assert (await harness.index.get("alice", "db-password")).tags == ("relabelled",)


async def test_list_orders_by_key_and_filters(harness):
    await harness.index.upsert(record(key="db-password", secret_type="database", tags=("prod", "db")))
    await harness.index.upsert(record(key="API_token", tags=("prod", "api")))
    await harness.index.upsert(record(key="apiXtoken", tags=("staging", "api")))
    await harness.index.upsert(record(key="Zeta", tags=()))
    await harness.index.upsert(record(key="alpha.key", secret_type="database", tags=("db",)))
    await harness.index.upsert(record(key="gone-api", tags=("api",)))
    await harness.index.mark_deleted("alice", "gone-api", T0)

    # Code-point order, the same on every implementation; deleted rows never listed.
    assert await keys(harness) == ["API_token", "Zeta", "alpha.key", "apiXtoken", "db-password"]
    assert await keys(harness, secret_type="database") == ["alpha.key", "db-password"]
    assert await keys(harness, secret_type="datab") == []
    assert await keys(harness, tags=["api"]) == ["API_token", "apiXtoken"]
    assert await keys(harness, tags=["api", "prod"]) == ["API_token"]
    assert await keys(harness, tags=["db", "prod"], secret_type="database") == ["db-password"]
    assert await keys(harness, tags=["nope"]) == []
    assert await keys(harness, query="API") == ["API_token", "apiXtoken"]
    assert await keys(harness, query="ta") == ["Zeta"]
    assert await keys(harness, query="api", tags=["staging"]) == ["apiXtoken"]


async def test_list_query_treats_like_wildcards_literally(harness):
    for key in ("API_token", "apiXtoken", "a.b", "axb"):
        await harness.index.upsert(record(key=key))

    assert await keys(harness, query="i_t") == ["API_token"]
    assert await keys(harness, query="_") == ["API_token"]
    assert await keys(harness, query="%") == []
    assert await keys(harness, query="a%b") == []
    assert await keys(harness, query="\\") == []
    assert await keys(harness, query=".") == ["a.b"]


async def test_users_never_see_each_others_records(harness):
    await harness.index.upsert(record("alice", "shared", secret_type="a"))
    await harness.index.upsert(record("bob", "shared", secret_type="b"))
    await harness.index.upsert(record("bob", "bobs-own"))

    assert await keys(harness, "alice") == ["shared"]
    assert await keys(harness, "bob") == ["bobs-own", "shared"]
    assert (await harness.index.get("bob", "shared")).secret_type == "b"
    assert await harness.index.get("alice", "bobs-own") is None

    await harness.index.mark_deleted("alice", "shared", T0)
    await harness.index.record_access("alice", "shared", T0)
    assert await keys(harness, "bob") == ["bobs-own", "shared"]
    assert (await harness.index.get("bob", "shared")).last_accessed_at is None
    assert await keys(harness, "carol") == []


async def test_mark_deleted_and_record_access_on_missing_rows_do_nothing(harness):
    await harness.index.mark_deleted("alice", "missing", T0)
    await harness.index.record_access("alice", "missing", T0)

    assert await harness.index.get("alice", "missing") is None
    assert await harness.count_rows("alice") == 0


async def test_record_access_only_moves_forward_and_survives_upsert(harness):
    await harness.index.upsert(record())
    await harness.index.record_access("alice", "db-password", T0 + timedelta(minutes=5))
    await harness.index.record_access("alice", "db-password", T0 + timedelta(minutes=1))
    assert (await harness.index.get("alice", "db-password")).last_accessed_at == T0 + timedelta(minutes=5)

    await harness.index.upsert(record(current_version=2))  # carries no access time
    assert (await harness.index.get("alice", "db-password")).last_accessed_at == T0 + timedelta(minutes=5)


async def test_concurrent_upserts_of_one_key_leave_exactly_one_row(harness):
    await asyncio.gather(*(harness.index.upsert(record("dave", "racy", current_version=n)) for n in range(1, 11)))

    assert await harness.count_rows("dave") == 1
    assert await harness.count_users("dave") == 1
    got = await harness.index.get("dave", "racy")
    assert got is not None and 1 <= got.current_version <= 10


async def test_ensure_user_is_idempotent_even_concurrently(harness):
    await harness.users.ensure("erin")
    await harness.users.ensure("erin")
    assert await harness.count_users("erin") == 1

    await asyncio.gather(*(harness.users.ensure("frank") for _ in range(10)))
    assert await harness.count_users("frank") == 1

    await harness.index.upsert(record("erin"))  # the user row already there is fine
    assert await harness.count_users("erin") == 1


@pytest.fixture(params=["memory", "sql"])
def unavailable(request):
    if request.param == "memory":
        users, index = InMemoryUserDirectory(), InMemorySecretIndex()
        users.available = index.available = False
        return index, users, None
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    database = create_database("postgresql+asyncpg://postgres@127.0.0.1:1/nothing")
    return SqlSecretIndex(database), SqlUserDirectory(database), database


async def test_an_unreachable_store_raises_storage_unavailable(unavailable):
    index, users, database = unavailable
    try:
        for call in (
            lambda: index.upsert(record()),
            lambda: index.get("alice", "k"),
            lambda: index.list("alice"),
            lambda: index.mark_deleted("alice", "k", T0),
            lambda: index.record_access("alice", "k", T0),
            lambda: users.ensure("alice"),
        ):
            with pytest.raises(StorageUnavailable):
                await call()
        if database is not None:
            assert await database.ping() is False
    finally:
        if database is not None:
            await database.dispose()
