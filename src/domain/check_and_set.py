"""The one check-and-set retry: read, compute, write with `cas=<version read>`, and on a
`VersionConflict` (someone wrote in between) do it all again on top of their write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from domain.errors import VersionConflict

T = TypeVar("T")


async def retry_on_conflict(
    attempt: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    exhausted: str | None = None,
    pause: Callable[[int], Awaitable[None]] | None = None,
) -> T:
    """`await attempt()` until it returns, at most `attempts` times while it raises `VersionConflict`.

    `attempt` must re-read what it writes on each call (that is what makes a retry safe). When every
    attempt conflicted: `VersionConflict(exhausted)`, or the last conflict itself when `exhausted`
    is None. `pause(n)`, if given, is awaited before retry n+1 (e.g. a jittered backoff).
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for done in range(attempts):
        try:
            return await attempt()
        except VersionConflict:
            if done + 1 < attempts:
                if pause is not None:
                    await pause(done)
                continue
            if exhausted is None:
                raise
            raise VersionConflict(exhausted) from None
    raise AssertionError("unreachable")
