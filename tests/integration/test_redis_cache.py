"""RedisSecretCache on the real Redis server, and the shared cache key on the real OpenBao.

Redis isolation: database 15 (override with MIRAGE_TEST_REDIS_URL), a random key prefix and a
random channel per test; only keys under that prefix are deleted afterwards (never FLUSH*).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from adapters.cache import RedisSecretCache
from adapters.vault.cache_key import CacheKeyInvalid, load_or_create_cache_key
from domain.ports import CachedSecret
from domain.secrets import VaultEntry
from domain.values import SecretValue
from tests.fakes.vault import InMemorySecretVault
from tests.support.ports import free_port
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("MIRAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@dataclass
class RedisEnv:
    raw: Redis  # a plain client for looking behind the adapter's back
    prefix: str
    channel: str
    data_key: bytes
    make: Callable[..., Awaitable[RedisSecretCache]]

    async def keys(self) -> list[bytes]:
        return [key async for key in self.raw.scan_iter(match=f"{self.prefix}*")]


@pytest_asyncio.fixture
async def env() -> AsyncIterator[RedisEnv]:
    raw = Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        await raw.ping()
    except Exception:
        await raw.aclose()
        pytest.skip(f"no Redis server answers at {REDIS_URL}")
    prefix = f"mirage:test:{uuid.uuid4().hex[:12]}:"
    channel = f"mirage:test:invalidate:{uuid.uuid4().hex[:12]}"
    data_key = os.urandom(32)
    made: list[RedisSecretCache] = []

    async def make(**kwargs) -> RedisSecretCache:
        kwargs.setdefault("channel", channel)
        kwargs.setdefault("key_prefix", prefix)
        url = kwargs.pop("url", REDIS_URL)
        wait = kwargs.pop("wait", 2.0)
        cache = RedisSecretCache(url, kwargs.pop("data_key", data_key), **kwargs)
        made.append(cache)
        await cache.start(wait_seconds=wait)
        return cache

    the_env = RedisEnv(raw, prefix, channel, data_key, make)
    try:
        yield the_env
    finally:
        for cache in made:
            await cache.close()
        keys = await the_env.keys()
        if keys:
            await raw.delete(*keys)
        await raw.aclose()


def _secret(value: str, *, version: int = 1) -> CachedSecret:
    now = datetime.now(UTC)
    return CachedSecret(
        entry=VaultEntry(data={"value": SecretValue(value)}, version=version, created_at=now),
        custom={"created_by": "canary-owner", "secret_type": "custom"},
        current_version=version,
        updated_at=now,
        cached_at=time.time(),
    )


# -- (a) nothing readable in Redis ------------------------------------------------------------


async def test_redis_holds_no_plaintext_value_user_id_or_key(env):
    cache = await env.make()
    user_id = f"canary-user-{uuid.uuid4().hex[:8]}"
    secret_key = f"canary-key-{uuid.uuid4().hex[:8]}"
    value = f"CANARY-VALUE-{uuid.uuid4().hex}"
    path = f"users/{user_id}/custom/{secret_key}"

    listener = env.raw.pubsub()
    await listener.subscribe(env.channel)
    try:
        await cache.put(path, _secret(value))
        assert (await cache.get(path)).entry.data["value"].reveal() == value
        await cache.put(f"users/{user_id}/github", _secret(value + "-gh"))

        keys = await env.keys()
        assert len(keys) == 2
        for key in keys:
            stored = await env.raw.get(key)
            assert stored is not None
            for needle in (value, user_id, secret_key, "canary"):
                assert needle.encode() not in key
                assert needle.encode() not in stored
                assert needle.lower().encode() not in stored.lower()

        await cache.invalidate(path)
        published = None
        deadline = time.monotonic() + 2
        while published is None and time.monotonic() < deadline:
            message = await listener.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message and message["type"] == "message":
                published = message["data"]
        assert published is not None
        for needle in (value, user_id, secret_key):
            assert needle.encode() not in published
    finally:
        await listener.aclose()


# -- (b) a ciphertext moved to another key -----------------------------------------------------


async def test_a_ciphertext_copied_under_another_paths_key_is_a_miss(env):
    writer = await env.make(local_copy=False)
    victim = f"users/victim-{uuid.uuid4().hex[:6]}/custom/token"
    attacker = f"users/attacker-{uuid.uuid4().hex[:6]}/custom/token"
    await writer.put(victim, _secret("victim's value"))
    await writer.put(attacker, _secret("attacker's value"))
    victim_key = env.prefix + writer._cipher.key_id(victim)
    attacker_key = env.prefix + writer._cipher.key_id(attacker)
    assert set(await env.keys()) == {victim_key.encode(), attacker_key.encode()}

    await env.raw.set(attacker_key, await env.raw.get(victim_key))

    reader = await env.make()  # a fresh instance, with the local layer: nothing cached locally yet
    assert await reader.get(attacker) is None
    assert await writer.get(attacker) is None
    assert (await reader.get(victim)).entry.data["value"].reveal() == "victim's value"

    # A different data key can't read anything either.
    stranger = await env.make(data_key=os.urandom(32))
    assert await stranger.get(victim) is None


# -- (c) two service instances ----------------------------------------------------------------


async def test_an_invalidation_reaches_the_other_instance(env):
    a = await env.make()
    b = await env.make()
    assert a.local_layer_active and b.local_layer_active
    path = f"users/u-{uuid.uuid4().hex[:8]}/custom/shared"

    await a.put(path, _secret("v1"))
    got = await b.get(path)
    assert got is not None and got.entry.data["value"].reveal() == "v1"
    assert b.local_entries == 1

    # B now answers from its local copy: removing the Redis entry behind its back changes nothing...
    await env.raw.delete(env.prefix + b._cipher.key_id(path))
    assert (await b.get(path)).entry.data["value"].reveal() == "v1"
    await a.put(path, _secret("v1"))

    # ...until A invalidates: the message makes B drop its copy.
    await a.invalidate(path)
    assert await a.get(path) is None

    async def b_misses() -> bool:
        return await b.get(path) is None

    assert await eventually(b_misses, within=2.0)
    assert b.local_entries == 0


async def test_a_lost_listener_connection_disables_the_local_layer_until_resubscribed(env):
    a = await env.make()
    b = await env.make()
    path = f"users/u-{uuid.uuid4().hex[:8]}/custom/shared"
    await a.put(path, _secret("v1"))
    assert await b.get(path) is not None
    assert b.local_entries == 1

    clients = await env.raw.client_list()
    ids = [c["id"] for c in clients if c.get("name") == b.listener_client_name]
    assert len(ids) == 1
    await env.raw.execute_command("CLIENT", "KILL", "ID", ids[0])
    # While B may be disconnected, A invalidates: B can miss the message, so it must not trust
    # (and must have dropped) its local copies.
    await a.invalidate(path)

    async def b_misses() -> bool:
        return await b.get(path) is None

    assert await eventually(b_misses, within=2.0)

    async def b_resubscribed() -> bool:
        return b.local_layer_active

    assert await eventually(b_resubscribed, within=5.0)
    assert b.local_entries == 0
    # And it works again afterwards.
    await a.put(path, _secret("v2"))
    assert (await b.get(path)).entry.data["value"].reveal() == "v2"
    assert b.local_entries == 1
    await a.invalidate(path)
    assert await eventually(b_misses, within=2.0)


# -- (d) Redis down ---------------------------------------------------------------------------


async def test_an_unreachable_redis_is_a_miss_and_never_raises(env, caplog):
    cache = await env.make(url=f"redis://127.0.0.1:{free_port()}/0", wait=0.3)
    path = "users/someone/custom/k"
    assert not cache.local_layer_active
    value = f"CANARY-{uuid.uuid4().hex}"
    await cache.put(path, _secret(value))
    assert await cache.get(path) is None
    await cache.invalidate(path)
    assert await cache.get(path) is None
    assert value not in caplog.text
    assert "someone" not in caplog.text


# -- (e) the shared cache key -----------------------------------------------------------------


@pytest.fixture(params=["fake", "openbao"])
def vault(request):
    if request.param == "fake":
        return InMemorySecretVault()
    return request.getfixturevalue("hvac_vault")


async def test_the_cache_key_is_created_once_and_then_read(vault):
    path = f"service/cache-key-{uuid.uuid4().hex[:8]}"
    first = await load_or_create_cache_key(vault, path)
    second = await load_or_create_cache_key(vault, path)
    assert isinstance(first, bytes) and len(first) == 32
    assert second == first
    assert (await vault.read_metadata(path)).current_version == 1


async def test_concurrent_instances_all_get_the_same_cache_key(vault):
    path = f"service/cache-key-{uuid.uuid4().hex[:8]}"
    keys = await asyncio.gather(*(load_or_create_cache_key(vault, path) for _ in range(5)))
    assert len(set(keys)) == 1
    assert len(keys[0]) == 32
    assert await load_or_create_cache_key(vault, path) == keys[0]
    assert (await vault.read_metadata(path)).current_version == 1


async def test_a_malformed_stored_cache_key_is_refused_not_replaced(vault):
    path = f"service/cache-key-{uuid.uuid4().hex[:8]}"
    await vault.write(path, {"key": SecretValue("not base64!")}, cas=0)
    with pytest.raises(CacheKeyInvalid):
        await load_or_create_cache_key(vault, path)
    assert (await vault.read_metadata(path)).current_version == 1
