"""`SecretVault` decorator: retries with backoff and jitter, behind a circuit breaker.

    ResilientSecretVault(HvacSecretVault(...), breaker=CircuitBreaker())

What is retried
---------------
Only `VaultUnavailable` (unreachable, sealed, standby, 429, 5xx, timeouts) is transient. Every
other domain error (`SecretNotFound`, `VersionConflict`, `VaultRefused`, ...) is Vault's answer:
it is passed on at once, and for the breaker it counts as proof that Vault is alive.

Writes are retried only when Vault certainly did not apply them
---------------------------------------------------------------
`read`, `read_metadata` and `set_custom_metadata` (which replaces the custom metadata whole) are
idempotent and are retried on any transient failure.

`write` (check-and-set) and `soft_delete` (delete the *latest* version) are not idempotent: if
the first attempt landed and only its answer was lost (read timeout, connection reset after the
request went out, a 5xx from a proxy), a retry would come back as `VersionConflict` for a write
that in fact succeeded, or delete someone else's newer version. So they are retried only when
the failure proves the request never took effect:

- the connection could not be opened (connection refused, connect timeout, DNS failure);
- Vault answered 503 sealed/standby (`VaultDown`) or 429 (rate limited): it refused to act.

Any other transient failure of a write surfaces as `VaultUnavailable` after one attempt: the
outcome is unknown, and the caller (ultimately the user, with a 503) decides. A later retry of the
same check-and-set tells the truth: `VersionConflict` if the first one landed.

The breaker
-----------
Every attempt, retries included, goes through the breaker: once it opens, the remaining attempts
are not made (`CircuitOpen` is never retried) and new calls fail fast without touching Vault.
`health()` bypasses the breaker - it is how operators see Vault come back - and feeds it: a
healthy answer closes it, an unreachable or sealed one counts as a transient failure.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

import hvac.exceptions as hvac_errors
import requests
import tenacity
import urllib3.exceptions

from adapters.vault.breaker import CircuitBreaker, CircuitOpen
from domain.errors import DomainError, VaultUnavailable
from domain.ports import SecretVault, VaultHealth
from domain.secrets import VaultEntry, VaultMetadata
from domain.values import SecretValue

T = TypeVar("T")

# Failures that prove the request was never acted on by Vault.
_NOT_APPLIED: tuple[type[BaseException], ...] = (
    ConnectionRefusedError,
    socket.gaierror,
    requests.ConnectTimeout,
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.NameResolutionError,
    hvac_errors.VaultDown,  # 503: sealed, standby without forwarding
    hvac_errors.RateLimitExceeded,  # 429
    hvac_errors.VaultNotInitialized,
)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it was raised from or wraps (requests/urllib3 nest theirs)."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.append(current.__cause__)
        stack.append(current.__context__)
        reason = getattr(current, "reason", None)  # urllib3.MaxRetryError.reason
        if isinstance(reason, BaseException):
            stack.append(reason)
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))


def is_transient(exc: BaseException) -> bool:
    """Vault could not answer; trying again later may work. Breaker refusals are not retried."""
    return isinstance(exc, VaultUnavailable) and not isinstance(exc, CircuitOpen)


def certainly_not_applied(exc: BaseException) -> bool:
    """The failed request provably had no effect in Vault (safe to retry a non-idempotent call)."""
    return is_transient(exc) and any(isinstance(cause, _NOT_APPLIED) for cause in _causes(exc))


class ResilientSecretVault:
    """Implements `domain.ports.SecretVault` by delegation, adding retries and a circuit breaker."""

    def __init__(
        self,
        inner: SecretVault,
        *,
        breaker: CircuitBreaker,
        attempts: int = 3,
        base_delay: float = 0.05,
        max_delay: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._inner = inner
        self._breaker = breaker
        self._attempts = attempts
        # delay before retry k (k = 1, 2, ...): min(base * 2**(k-1) + uniform(0, base), max_delay)
        self._first_wait = tenacity.wait_exponential_jitter(multiplier=base_delay, max=max_delay, jitter=base_delay)
        self._later_waits = tenacity.wait_exponential_jitter(
            multiplier=base_delay * 2, max=max_delay, jitter=base_delay
        )
        self._sleep: Callable[[float], Awaitable[None]] = sleep or asyncio.sleep
        self.retries = 0  # attempts beyond the first, for metrics

    @property
    def inner(self) -> SecretVault:
        return self._inner

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    @property
    def state(self) -> str:
        return self._breaker.state

    async def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            await close()

    # -- the machinery ------------------------------------------------------------------------

    async def _attempt(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        breaker = self._breaker
        probe = breaker.before_call()  # raises CircuitOpen without touching Vault
        try:
            result = await fn(*args, **kwargs)
        except VaultUnavailable:
            breaker.record_failure(probe)
            raise
        except DomainError:
            breaker.record_success(probe)  # Vault answered, with a "no": it is alive
            raise
        except BaseException:  # cancelled, or a bug: no verdict about Vault
            breaker.release(probe)
            raise
        breaker.record_success(probe)
        return result

    async def _run(
        self,
        retry_if: Callable[[BaseException], bool],
        fn: Callable[..., Awaitable[T]],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> T:
        # Fast path: the first attempt costs no retry bookkeeping (tenacity costs ~30 us a call).
        try:
            return await self._attempt(fn, *args, **kwargs)
        except VaultUnavailable as exc:
            if self._attempts == 1 or not retry_if(exc):
                raise
        # Attempts 2..n under tenacity. Its waits follow its own attempt numbers, so the first
        # backoff is slept here and tenacity's schedule starts one step further (multiplier x2).
        retrying = tenacity.AsyncRetrying(
            sleep=self._sleep,
            stop=tenacity.stop_after_attempt(self._attempts - 1),
            wait=self._later_waits,
            retry=tenacity.retry_if_exception(retry_if),
            before=self._count_retry,
            reraise=True,
        )
        await self._sleep(self._first_wait(tenacity.RetryCallState(retrying, fn=None, args=(), kwargs={})))
        return await retrying(self._attempt, fn, *args, **kwargs)

    def _count_retry(self, state: tenacity.RetryCallState) -> None:
        self.retries += 1

    # -- the port -----------------------------------------------------------------------------

    async def read(self, path: str, version: int | None = None) -> VaultEntry:
        return await self._run(is_transient, self._inner.read, path, version)

    async def read_metadata(self, path: str) -> VaultMetadata | None:
        return await self._run(is_transient, self._inner.read_metadata, path)

    async def write(self, path: str, data: Mapping[str, SecretValue], *, cas: int) -> VaultEntry:
        return await self._run(certainly_not_applied, self._inner.write, path, data, cas=cas)

    async def set_custom_metadata(self, path: str, custom: Mapping[str, str]) -> None:
        await self._run(is_transient, self._inner.set_custom_metadata, path, custom)

    async def soft_delete(self, path: str) -> None:
        await self._run(certainly_not_applied, self._inner.soft_delete, path)

    async def undelete(self, path: str, version: int) -> None:
        await self._run(is_transient, self._inner.undelete, path, version)  # idempotent

    async def destroy(self, path: str) -> None:
        await self._run(is_transient, self._inner.destroy, path)  # idempotent: a repeat is harmless

    async def health(self) -> VaultHealth:
        """Never blocked by the breaker; a clear answer updates it."""
        health = await self._inner.health()
        if health.reachable and health.initialized and not health.sealed:
            self._breaker.record_success()
        else:
            self._breaker.record_failure()
        return health
