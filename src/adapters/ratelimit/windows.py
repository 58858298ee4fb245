"""Fixed-window request counters: in Redis, shared by every worker and instance, or in-process.

A window is `window_seconds` long and aligned to the epoch, so every worker counts into the same
Redis key for the same window without talking to the others. Redis being down must not take the
service down with it: the Redis counter then counts in-process (each worker on its own) until
Redis answers again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.rate_limits import Window

log = logging.getLogger("mirage.ratelimit")


class InMemoryWindows:
    """One process's counters; old windows are dropped as new ones start."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[str, int] = {}
        self._window_of: dict[str, int] = {}

    async def hit(self, bucket: str, window_seconds: int) -> Window:
        return self.count(bucket, window_seconds)

    def count(self, bucket: str, window_seconds: int) -> Window:
        now = self._clock()
        index = int(now // window_seconds)
        if self._window_of.get(bucket) != index:
            self._window_of[bucket], self._counts[bucket] = index, 0
            if len(self._window_of) > 100_000:  # a flood of distinct buckets: forget finished windows
                self._forget_before(index)
        self._counts[bucket] += 1
        return Window(self._counts[bucket], _retry_after(now, index, window_seconds))

    def _forget_before(self, index: int) -> None:
        for bucket in [b for b, i in self._window_of.items() if i < index]:
            del self._window_of[bucket], self._counts[bucket]


class RedisWindows:
    """Counters in Redis (`INCR` + `EXPIRE` in one transaction), falling back to in-process ones."""

    def __init__(self, url: str, *, key_prefix: str, clock: Callable[[], float] = time.time) -> None:
        self._redis = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._prefix = key_prefix
        self._clock = clock
        self._fallback = InMemoryWindows(clock)

    async def hit(self, bucket: str, window_seconds: int) -> Window:
        now = self._clock()
        index = int(now // window_seconds)
        key = f"{self._prefix}{bucket}:{index}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, window_seconds + 1)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("rate-limit counters unreachable in Redis (%s); counting in this process", type(exc).__name__)
            return self._fallback.count(bucket, window_seconds)
        return Window(int(count), _retry_after(now, index, window_seconds))

    async def close(self) -> None:
        await self._redis.aclose()


def _retry_after(now: float, index: int, window_seconds: int) -> int:
    return max(1, int((index + 1) * window_seconds - now + 0.999))
