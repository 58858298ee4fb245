"""The cleanup pass's index and lock on SQLite and PostgreSQL: each claim is won by exactly one of
many racing callers, warnings move only toward closer thresholds, and the job lock is exclusive."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from adapters.db.engine import create_database
from adapters.db.locks import DatabaseJobLock
from adapters.db.migrate import upgrade
from adapters.db.repositories import SqlSecretIndex, SqlSecretLifecycleIndex
from domain.secrets import SecretRecord

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def database(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/lifecycle.db"
        upgrade(url)
    else:
        url = request.getfixturevalue("pg_url")
    db = create_database(url)
    yield db
    await db.dispose()


def record(user: str, key: str, **fields) -> SecretRecord:
    base = {"secret_type": "custom", "tags": (), "created_at": NOW, "updated_at": NOW, "current_version": 1}
    return SecretRecord(user_id=user, key=key, **(base | fields))


@pytest.fixture
def user() -> str:
    return f"user_{uuid.uuid4().hex[:10]}"


async def test_an_expired_secret_is_claimed_once_however_many_race(database, user):
    index, lifecycle = SqlSecretIndex(database), SqlSecretLifecycleIndex(database)
    await index.upsert(record(user, "gone", expires_at=NOW - timedelta(seconds=1)))
    await index.upsert(record(user, "later", expires_at=NOW + timedelta(days=1)))
    await index.upsert(record(user, "never"))

    expired = [r.key for r in await lifecycle.expired_live(NOW, 1000) if r.user_id == user]
    assert expired == ["gone"]
    wins = await asyncio.gather(*(lifecycle.claim_expired(user, "gone", NOW) for _ in range(8)))
    assert sorted(wins) == [False] * 7 + [True]
    row = await index.get(user, "gone")
    assert (row.deleted, row.deleted_reason, row.deleted_at) == (True, "expired", NOW)
    assert not await lifecycle.claim_expired(user, "later", NOW)

    # Past the recovery window: claimed for destruction once, then removed.
    assert [r.key for r in await lifecycle.past_recovery(NOW - timedelta(days=1), 1000) if r.user_id == user] == []
    cutoff = NOW + timedelta(seconds=1)
    assert [r.key for r in await lifecycle.past_recovery(cutoff, 1000) if r.user_id == user] == ["gone"]
    wins = await asyncio.gather(*(lifecycle.claim_destroy(user, "gone", cutoff) for _ in range(8)))
    assert sorted(wins) == [False] * 7 + [True]
    await lifecycle.release_destroy(user, "gone")  # Vault failed: back in line for the next pass
    assert await lifecycle.claim_destroy(user, "gone", cutoff)
    await lifecycle.remove(user, "gone")
    assert await index.get(user, "gone") is None


async def test_a_user_delete_or_a_new_value_is_never_destroyed(database, user):
    index, lifecycle = SqlSecretIndex(database), SqlSecretLifecycleIndex(database)
    await index.upsert(record(user, "mine"))
    await index.mark_deleted(user, "mine", NOW - timedelta(days=90))
    await index.upsert(record(user, "back", expires_at=NOW - timedelta(days=1)))
    assert await lifecycle.claim_expired(user, "back", NOW - timedelta(hours=1))
    await index.upsert(record(user, "back", current_version=2, updated_at=NOW))  # stored again: live
    later = NOW + timedelta(days=365)
    assert [r.key for r in await lifecycle.past_recovery(later, 1000) if r.user_id == user] == []
    assert not await lifecycle.claim_destroy(user, "mine", later)
    assert not await lifecycle.claim_destroy(user, "back", later)


async def test_warnings_move_only_toward_closer_thresholds_and_reset_with_a_new_expiry(database, user):
    index, lifecycle = SqlSecretIndex(database), SqlSecretLifecycleIndex(database)
    await index.upsert(record(user, "cert", expires_at=NOW + timedelta(days=10)))
    assert await lifecycle.claim_warning(user, "cert", 14)
    assert not await lifecycle.claim_warning(user, "cert", 14)
    assert await lifecycle.claim_warning(user, "cert", 7)
    assert not await lifecycle.claim_warning(user, "cert", 14)
    # A metadata change that keeps the expiry keeps the warnings given; a new expiry resets them.
    await index.upsert(record(user, "cert", expires_at=NOW + timedelta(days=10), description="same expiry"))
    assert not await lifecycle.claim_warning(user, "cert", 7)
    await index.upsert(record(user, "cert", expires_at=NOW + timedelta(days=12)))
    assert await lifecycle.claim_warning(user, "cert", 14)
    assert await lifecycle.count_expiring(NOW, NOW + timedelta(days=7)) >= 0
    soon = [r.key for r in await lifecycle.expiring_live(NOW + timedelta(days=14), 1000) if r.user_id == user]
    assert soon == ["cert"]


async def test_a_metadata_change_keeps_when_the_value_was_written(database, user):
    index = SqlSecretIndex(database)
    written = NOW - timedelta(days=40)
    await index.upsert(record(user, "k", version_created_at=written, rotate_every_days=30))
    await index.upsert(record(user, "k", updated_at=NOW, tags=("x",), rotate_every_days=30))
    row = await index.get(user, "k")
    assert (row.version_created_at, row.updated_at, row.rotate_every_days) == (written, NOW, 30)
    await index.upsert(record(user, "k", current_version=2, version_created_at=NOW, updated_at=NOW))
    assert (await index.get(user, "k")).version_created_at == NOW


async def test_the_job_lock_is_held_by_one_caller_at_a_time(database):
    first, second = DatabaseJobLock(database), DatabaseJobLock(database)
    name = f"test-{uuid.uuid4().hex}"
    async with first.hold(name) as got:
        assert got
        if database.dialect == "postgresql":  # across processes: another holder is refused
            async with second.hold(name) as other:
                assert not other
        async with first.hold(name) as again:  # the same holder, a second time: refused too
            assert not again
    async with second.hold(name) as after:
        assert after
