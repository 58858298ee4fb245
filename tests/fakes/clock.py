"""The one controllable clock of the unit tests: wall time and monotonic time, moved together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    """`clock()` is the wall time (a UTC datetime, for services' `clock=`); `clock.monotonic()` the
    seconds a timer counts (for `CircuitBreaker(clock=clock.monotonic)`). Only `advance` moves them."""

    def __init__(self, now: datetime = START, monotonic_start: float = 1000.0) -> None:
        self.now = now
        self._monotonic = monotonic_start

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float = 0.0, *, minutes: float = 0.0) -> None:
        step = seconds + 60 * minutes
        if step < 0:
            raise ValueError("time does not go backwards")
        self.now += timedelta(seconds=step)
        self._monotonic += step
