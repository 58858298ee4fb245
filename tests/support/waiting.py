"""Polls with a deadline: for conditions reached by a background task or another process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], bool | Awaitable[bool]], *, within: float = 2.0, every: float = 0.02) -> bool:
    """True as soon as `check()` holds, False once `within` seconds have passed without it."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(every)
