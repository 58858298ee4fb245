"""Background jobs a serving process runs next to the API: the secret lifecycle's cleanup pass."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.secret_lifecycle import SecretCleanupService

log = logging.getLogger("mirage.jobs")


async def run_cleanup_every(cleanup: SecretCleanupService, interval_seconds: float) -> None:
    """Run the pass every `interval_seconds` until cancelled; every worker and replica runs this
    loop, and the pass's lock makes one of them do the work each time. A failed pass is logged and
    the loop goes on (an outage must not end it)."""
    # Jittered so that workers started together don't all contend for the lock at the same instant.
    await asyncio.sleep(interval_seconds * random.uniform(0.5, 1.0))
    while True:
        try:
            report = await cleanup.run()
        except Exception as exc:
            log.warning("secret cleanup pass failed (%s)", type(exc).__name__)
        else:
            if not report.skipped and (report.expired or report.destroyed or report.warned or report.failed):
                log.info(
                    "secret cleanup pass: %d expired, %d destroyed, %d warnings, %d failed",
                    len(report.expired),
                    len(report.destroyed),
                    len(report.warned),
                    len(report.failed),
                )
        await asyncio.sleep(interval_seconds)


@asynccontextmanager
async def cleanup_job(cleanup: SecretCleanupService, interval_seconds: float) -> AsyncIterator[None]:
    """The loop as a task for as long as the block runs; off when the interval is 0."""
    if interval_seconds <= 0:
        yield
        return
    task = asyncio.create_task(run_cleanup_every(cleanup, interval_seconds), name="secret-cleanup")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
