"""The one check-and-set retry: read, compute, write with `cas=<version read>`, and on a
`VersionConflict` (someone wrote in between) do it all again on top of their write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from domain.errors import VersionConflict

T = TypeVar("T")


async def retry_on_conflict(attempt: Callable[[], Awaitable[T]], *, attempts: int, exhausted: str | None = None) -> T:
    """`await attempt()` until it returns, at most `attempts` times while it raises `VersionConflict`.

    `attempt` must re-read what it writes on each call (that is what makes a retry safe). When every
    attempt conflicted: `VersionConflict(exhausted)`, or the last conflict itself when `exhausted`
    is None.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for remaining in range(attempts - 1, -1, -1):
        try:
            return await attempt()
        except VersionConflict:
            if remaining > 0:
                continue
            if exhausted is None:
                raise
            raise VersionConflict(exhausted) from None
    raise AssertionError("unreachable")
