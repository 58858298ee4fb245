"""`SecretCache` on a shared Redis: encrypted entries, keyed hashes for names, pub/sub invalidation.

Layout
- `<key_prefix><hmac(path)>` -> the AES-GCM envelope of `cipher.py`, expiring at
  `cached_at + retention_seconds` (the longest stale window the service may serve). Redis never
  sees a plaintext value, user id or secret key.
- `invalidate` deletes that key and publishes the hash on `channel`; every instance drops its
  local copy when the message arrives.

Local layer (`local_copy=True`): an LRU of ciphertexts in process memory, so a warm read costs a
dict lookup and a decrypt instead of a Redis round trip. It is only trusted while this instance's
listener is provably subscribed:
- it is used only after the SUBSCRIBE was confirmed by Redis, and only while the listener heard
  from Redis within the last `3 * heartbeat_seconds` (the listener PINGs on the subscription
  connection every `heartbeat_seconds`; a half-open connection therefore lapses too);
- when the listener loses its connection (error, killed connection, missed heartbeats) the local
  copies are cleared and the local layer is skipped (reads go to Redis) until a new subscription
  is confirmed, when it is cleared again and re-enabled: nothing cached locally before a gap in
  the invalidation stream is ever served after it;
- an in-flight Redis read that races with an invalidation does not repopulate the local layer
  (an invalidation epoch is compared before storing).

Nothing here raises to the caller: Redis errors, undecryptable entries and the like are logged
(operation and exception type only, never paths or values) and read as a miss / no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import OrderedDict

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from adapters.cache.cipher import CacheCipher, CacheEntryInvalid
from domain.ports import CachedSecret

logger = logging.getLogger(__name__)

DEFAULT_RETENTION_SECONDS = 3600.0
DEFAULT_CHANNEL = "mirage:cache:invalidate"
DEFAULT_KEY_PREFIX = "mirage:cache:"
_LOG_EVERY_SECONDS = 10.0
_MAX_BACKOFF_SECONDS = 2.0


class RedisSecretCache:
    """Implements `domain.ports.SecretCache` on Redis shared by every instance of the service."""

    def __init__(
        self,
        redis_url: str,
        data_key: bytes,
        *,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        channel: str = DEFAULT_CHANNEL,
        local_copy: bool = True,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        local_max_entries: int = 10_000,
        heartbeat_seconds: float = 5.0,
        socket_timeout: float = 1.0,
    ) -> None:
        if retention_seconds <= 0:
            raise ValueError("retention_seconds must be positive")
        self._cipher = CacheCipher(data_key)
        self._retention = float(retention_seconds)
        self._channel = channel
        self._prefix = key_prefix
        self._local_enabled = local_copy
        self._local_max = local_max_entries
        self._heartbeat = heartbeat_seconds
        # Commands: one immediate retry (a pooled connection may be stale after a Redis restart),
        # then give up fast: a slow cache is worse than a miss.
        self._redis = Redis.from_url(
            redis_url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 1),
        )
        # The subscription: no retries, so every connection problem surfaces to the listener,
        # which then distrusts and clears the local layer before subscribing again. Named, so
        # operators can find it in CLIENT LIST.
        self._listener_name = f"mirage-cache-listener-{os.urandom(4).hex()}"
        self._sub_redis = Redis.from_url(
            redis_url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 0),
            client_name=self._listener_name,
        )
        # key id -> (expires at, epoch seconds; ciphertext)
        self._local: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._epoch = 0  # bumped on every invalidation and every loss of the subscription
        self._subscribed = False
        self._alive_at = 0.0  # monotonic time the listener last heard from Redis
        self._ready = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._closed = False
        self._last_logged: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"RedisSecretCache(channel={self._channel!r}, local_copy={self._local_enabled})"

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self, wait_seconds: float = 1.0) -> None:
        """Start the invalidation listener; wait (bounded) for its first subscription. Never raises."""
        if not self._local_enabled or self._listener is not None or self._closed:
            return
        self._listener = asyncio.create_task(self._listen(), name="mirage-cache-invalidation-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=wait_seconds)

    async def close(self) -> None:
        self._closed = True
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        self._distrust_local()
        for client in (self._redis, self._sub_redis):
            try:
                await client.aclose()
            except Exception as exc:
                self._log("close", exc, "ignored")

    @property
    def local_layer_active(self) -> bool:
        """True while local copies may be served (the invalidation listener is known to be live)."""
        return self._local_enabled and self._subscribed and time.monotonic() - self._alive_at < 3 * self._heartbeat

    @property
    def listener_client_name(self) -> str:
        """The CLIENT SETNAME of the subscription connection."""
        return self._listener_name

    @property
    def local_entries(self) -> int:
        return len(self._local)

    # -- SecretCache --------------------------------------------------------------------------

    async def get(self, path: str) -> CachedSecret | None:
        key_id = self._cipher.key_id(path)
        if self.local_layer_active:
            hit = self._local.get(key_id)
            if hit is not None:
                expires_at, blob = hit
                if expires_at > time.time():
                    self._local.move_to_end(key_id)
                    secret = self._open(path, blob)
                    if secret is not None:
                        return secret
                self._local.pop(key_id, None)
        epoch = self._epoch
        try:
            stored = await self._redis.get(self._prefix + key_id)
        except Exception as exc:
            self._log("get", exc)
            return None
        if not isinstance(stored, bytes):  # None: a miss (the client never decodes responses)
            return None
        blob = stored
        secret = self._open(path, blob)
        if secret is None:
            return None
        expires_at = secret.cached_at + self._retention
        if expires_at <= time.time():
            return None
        if epoch == self._epoch:  # no invalidation arrived while we were reading
            self._remember(key_id, expires_at, blob)
        return secret

    async def put(self, path: str, secret: CachedSecret) -> None:
        key_id = self._cipher.key_id(path)
        expires_at = secret.cached_at + self._retention
        remaining_ms = int((expires_at - time.time()) * 1000)
        if remaining_ms <= 0:
            self._local.pop(key_id, None)
            return
        epoch = self._epoch
        try:
            blob = self._cipher.seal(path, secret)
            await self._redis.set(self._prefix + key_id, blob, px=remaining_ms)
        except Exception as exc:
            self._local.pop(key_id, None)
            self._log("put", exc)
            return
        if epoch == self._epoch:
            self._remember(key_id, expires_at, blob)
        else:
            self._local.pop(key_id, None)

    async def invalidate(self, path: str) -> None:
        key_id = self._cipher.key_id(path)
        self._epoch += 1
        self._local.pop(key_id, None)
        try:
            # DEL before PUBLISH, in one round trip: an instance re-reading on the message misses.
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.delete(self._prefix + key_id)
                pipe.publish(self._channel, key_id)
                await pipe.execute()
        except Exception as exc:
            self._log("invalidate", exc)

    # -- internals ----------------------------------------------------------------------------

    def _open(self, path: str, blob: bytes) -> CachedSecret | None:
        try:
            return self._cipher.open(path, blob)
        except CacheEntryInvalid as exc:
            self._log("decrypt", exc)
            return None

    def _remember(self, key_id: str, expires_at: float, blob: bytes) -> None:
        if not self.local_layer_active:
            self._local.pop(key_id, None)  # never leave an older copy behind a newer entry
            return
        self._local[key_id] = (expires_at, blob)
        self._local.move_to_end(key_id)
        while len(self._local) > self._local_max:
            self._local.popitem(last=False)

    def _distrust_local(self) -> None:
        self._subscribed = False
        self._ready.clear()
        self._epoch += 1
        self._local.clear()

    def _on_message(self, data: bytes | str) -> None:
        key_id = data.decode() if isinstance(data, bytes) else data
        self._epoch += 1
        self._local.pop(key_id, None)

    async def _listen(self) -> None:
        backoff = 0.05
        while not self._closed:
            pubsub: PubSub = self._sub_redis.pubsub(ignore_subscribe_messages=False)
            try:
                await pubsub.subscribe(self._channel)
                await self._await_confirmation(pubsub)
                # Subscribed from here on: nothing published from now on can be missed.
                self._local.clear()
                self._epoch += 1
                self._alive_at = time.monotonic()
                self._subscribed = True
                self._ready.set()
                if backoff > 0.05:
                    logger.info("cache invalidation listener subscribed again")
                backoff = 0.05
                await self._pump(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._log("listen", exc, "local copies dropped until subscribed again")
            finally:
                self._distrust_local()
                try:
                    await pubsub.aclose()
                except Exception as exc:
                    self._log("listen-close", exc, "ignored")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)

    async def _await_confirmation(self, pubsub: PubSub) -> None:
        deadline = time.monotonic() + 3 * self._heartbeat
        while time.monotonic() < deadline:
            message = await pubsub.get_message(timeout=self._heartbeat)
            if message is None:
                continue
            if message["type"] == "subscribe":
                return
            if message["type"] == "message":
                self._on_message(message["data"])
        raise ConnectionError("the invalidation channel subscription was not confirmed")

    async def _pump(self, pubsub: PubSub) -> None:
        last_ping = time.monotonic()
        poll = min(1.0, self._heartbeat / 2)
        while True:
            message = await pubsub.get_message(timeout=poll)
            now = time.monotonic()
            if message is not None:
                self._alive_at = now
                if message["type"] == "message":
                    self._on_message(message["data"])
                elif message["type"] in ("unsubscribe", "punsubscribe"):
                    raise ConnectionError("unsubscribed from the invalidation channel")
            if now - self._alive_at >= 3 * self._heartbeat:
                raise ConnectionError("the invalidation channel went silent")
            if now - last_ping >= self._heartbeat:
                await pubsub.ping()
                last_ping = now

    def _log(self, operation: str, exc: BaseException, outcome: str = "treated as a miss") -> None:
        """Log a failure by operation and exception type only (no paths, no values), rate-limited."""
        now = time.monotonic()
        last = self._last_logged.get(operation)
        level = logging.WARNING if last is None or now - last >= _LOG_EVERY_SECONDS else logging.DEBUG
        if level == logging.WARNING:
            self._last_logged[operation] = now
        logger.log(level, "secret cache %s failed (%s); %s", operation, type(exc).__name__, outcome)
