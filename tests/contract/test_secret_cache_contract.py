"""The same assertions against the in-process cache and the Redis cache on the real Redis server.

Redis isolation: database 15 (override with MIRAGE_TEST_REDIS_URL), a random key prefix and a
random invalidation channel per test; only keys under that prefix are deleted afterwards.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from adapters.cache import InProcessSecretCache, RedisSecretCache
from domain.ports import CachedSecret, SecretCache
from domain.secrets import VaultEntry
from domain.values import SecretValue
from tests.support.waiting import eventually

pytestmark = pytest.mark.contract


REDIS_URL = os.environ.get("MIRAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

CacheFactory = Callable[..., Awaitable[SecretCache]]


async def _redis_answers(url: str) -> bool:
    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


@pytest_asyncio.fixture(params=["memory", "redis"])
async def make_cache(request) -> AsyncIterator[CacheFactory]:
    """A factory of caches of one implementation; everything it made is closed/cleaned after."""
    made: list[RedisSecretCache] = []
    prefix = f"mirage:test:{uuid.uuid4().hex[:12]}:"
    channel = f"mirage:test:invalidate:{uuid.uuid4().hex[:12]}"
    data_key = os.urandom(32)

    if request.param == "redis" and not await _redis_answers(REDIS_URL):
        pytest.skip(f"no Redis server answers at {REDIS_URL}")

    async def make(retention_seconds: float = 3600) -> SecretCache:
        if request.param == "memory":
            return InProcessSecretCache(retention_seconds=retention_seconds)
        cache = RedisSecretCache(
            REDIS_URL, data_key, retention_seconds=retention_seconds, channel=channel, key_prefix=prefix
        )
        made.append(cache)
        await cache.start()
        return cache

    try:
        yield make
    finally:
        for cache in made:
            await cache.close()
        if request.param == "redis":
            raw = Redis.from_url(REDIS_URL)
            try:
                keys = [key async for key in raw.scan_iter(match=f"{prefix}*")]
                if keys:
                    await raw.delete(*keys)
            finally:
                await raw.aclose()


def _secret(value: str = "hunter2", *, version: int = 3, cached_at: float | None = None) -> CachedSecret:
    created = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    return CachedSecret(
        entry=VaultEntry(
            data={"value": SecretValue(value), "extra": SecretValue("second field ✓")},
            version=version,
            created_at=created,
        ),
        custom={"created_by": "alice", "secret_type": "custom", "tags": '["a","b"]'},
        current_version=version,
        updated_at=created + timedelta(minutes=5),
        cached_at=time.time() if cached_at is None else cached_at,
    )


def _path(user: str | None = None, key: str = "k") -> str:
    return f"users/{user or 'u-' + uuid.uuid4().hex[:8]}/custom/{key}"


def _assert_same(got: CachedSecret | None, want: CachedSecret) -> None:
    assert got is not None
    assert {name: value.reveal() for name, value in got.entry.data.items()} == {
        name: value.reveal() for name, value in want.entry.data.items()
    }
    assert got.entry.version == want.entry.version
    assert got.entry.created_at == want.entry.created_at
    assert dict(got.custom) == dict(want.custom)
    assert got.current_version == want.current_version
    assert got.updated_at == want.updated_at
    assert got.cached_at == want.cached_at


async def test_put_then_get_round_trips_everything(make_cache):
    cache = await make_cache()
    path, secret = _path(), _secret()
    await cache.put(path, secret)
    _assert_same(await cache.get(path), secret)
    _assert_same(await cache.get(path), secret)  # a second (possibly local) read too


async def test_a_newer_put_replaces_the_entry(make_cache):
    cache = await make_cache()
    path = _path()
    await cache.put(path, _secret("one", version=1))
    newer = _secret("two", version=2)
    await cache.put(path, newer)
    _assert_same(await cache.get(path), newer)


async def test_unknown_path_is_a_miss(make_cache):
    cache = await make_cache()
    assert await cache.get(_path()) is None


async def test_invalidate_drops_the_entry(make_cache):
    cache = await make_cache()
    path = _path()
    await cache.put(path, _secret())
    assert await cache.get(path) is not None
    await cache.invalidate(path)
    assert await cache.get(path) is None
    await cache.invalidate(path)  # invalidating a miss is fine too
    assert await cache.get(path) is None


async def test_an_entry_already_past_retention_is_not_kept(make_cache):
    cache = await make_cache(retention_seconds=60)
    path = _path()
    await cache.put(path, _secret(cached_at=time.time() - 61))
    assert await cache.get(path) is None


async def test_entries_are_gone_after_retention(make_cache):
    cache = await make_cache(retention_seconds=1)
    path, secret = _path(), _secret()
    await cache.put(path, secret)
    _assert_same(await cache.get(path), secret)

    async def expired() -> bool:
        return await cache.get(path) is None

    assert await eventually(expired, within=5.0, every=0.1)


async def test_two_users_paths_are_independent(make_cache):
    cache = await make_cache()
    alice, bob = _path("alice-" + uuid.uuid4().hex[:6]), _path("bob-" + uuid.uuid4().hex[:6])
    alice_secret, bob_secret = _secret("alice's", version=1), _secret("bob's", version=7)
    await cache.put(alice, alice_secret)
    await cache.put(bob, bob_secret)
    _assert_same(await cache.get(alice), alice_secret)
    _assert_same(await cache.get(bob), bob_secret)
    await cache.invalidate(alice)
    assert await cache.get(alice) is None
    _assert_same(await cache.get(bob), bob_secret)
