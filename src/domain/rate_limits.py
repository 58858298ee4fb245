"""Rate limits: how many provider calls a user may cause, and how often an address may fail to log in.

Provider calls (validating, rotating, testing a login, syncing) spend a third party's quota and
can be used to probe tokens, so each user gets a budget per window. Failed authentication is
counted per client address; once an address is over its limit, its requests are refused before
their token is even checked, so guessing tokens gains nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from domain.errors import DomainError


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    window_seconds: int

    def __str__(self) -> str:
        return f"{self.count}/{self.window_seconds}s"


@dataclass(frozen=True, slots=True)
class Window:
    count: int  # hits in the current window, this one included
    retry_after: int  # whole seconds until the window ends (at least 1)


class WindowCounter(Protocol):
    """Counts hits per bucket in fixed windows, shared by every worker where it can be."""

    async def hit(self, bucket: str, window_seconds: int) -> Window: ...


class RateLimited(DomainError):
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimits:
    def __init__(
        self,
        counter: WindowCounter,
        *,
        provider_calls: Limit,
        failed_auth: Limit,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.counter = counter
        self.provider_calls = provider_calls
        self.failed_auth = failed_auth
        self._clock = clock
        self._blocked: dict[str, float] = {}  # address -> epoch second its block ends

    async def spend_provider_call(self, user_id: str) -> None:
        """Count one provider call for `user_id`; `RateLimited` once the window's budget is spent."""
        window = await self.counter.hit(f"provider:{user_id}", self.provider_calls.window_seconds)
        if window.count > self.provider_calls.count:
            raise RateLimited(
                f"at most {self.provider_calls.count} provider calls per {self.provider_calls.window_seconds}s",
                retry_after=window.retry_after,
            )

    async def check_address(self, address: str) -> None:
        """Refuse an address that failed to authenticate too often in this window.

        Answered from this process's memory, so an ordinary request costs no round trip: the
        counter is shared, and each worker learns of a block at that address's next failure there.
        """
        until = self._blocked.get(address)
        if until is None:
            return
        now = self._clock()
        if now >= until:
            del self._blocked[address]
            return
        raise RateLimited(
            "too many failed authentications from this address", retry_after=max(1, int(until - now + 0.999))
        )

    async def failed_authentication(self, address: str) -> None:
        window = await self.counter.hit(f"auth:{address}", self.failed_auth.window_seconds)
        if window.count >= self.failed_auth.count:
            if len(self._blocked) > 100_000:  # a flood of addresses: forget the ones already free
                now = self._clock()
                self._blocked = {a: t for a, t in self._blocked.items() if t > now}
            self._blocked[address] = self._clock() + window.retry_after
