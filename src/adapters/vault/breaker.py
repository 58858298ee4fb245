"""A small circuit breaker for the Vault adapter.

closed ──(N consecutive transient failures)──▶ open ──(cool-down elapsed)──▶ half_open
  ▲                                              ▲                              │
  └──────────────(the probe succeeds)────────────┼──────(the probe fails)───────┘

- closed: every call goes through; a transient failure adds to a run of consecutive failures, any
  answer from Vault (a success *or* a non-transient error such as "not found") ends the run.
- open: calls are refused at once with `CircuitOpen` (a `VaultUnavailable` carrying
  `retry_after` = whole seconds until the breaker lets a probe through), Vault is not called.
- half_open: exactly one caller is let through as the probe; everybody else is still refused
  until the probe reports. Success closes the breaker, a transient failure opens it again for a
  fresh cool-down, and a probe that ends without a verdict (cancelled, a bug) frees the slot.

The breaker is plain synchronous state: no lock, no await. Checking it costs a clock read and a
few comparisons, so it never serialises requests. It is meant to be used from one event loop
(every `SecretVault` call runs on the loop; only the blocking HTTP runs in threads).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from domain.errors import VaultUnavailable

BreakerState = Literal["closed", "open", "half_open"]


class CircuitOpen(VaultUnavailable):
    """Vault was not called: the breaker is open (or a half-open probe is already in flight)."""


@dataclass(frozen=True, slots=True)
class BreakerStats:
    """A snapshot for health endpoints and metrics."""

    state: BreakerState
    consecutive_failures: int
    failure_threshold: int
    reset_timeout: float
    retry_after: float  # seconds until a probe may go through (0 unless open)
    calls: int  # calls let through (including probes)
    successes: int
    failures: int  # transient failures recorded
    rejected: int  # calls refused without touching Vault
    opened: int  # times the breaker tripped (closed/half_open -> open)
    probes: int  # half-open probes let through


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        name: str = "vault",
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_timeout <= 0:
            raise ValueError("reset_timeout must be positive")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._state: BreakerState = "closed"
        self._consecutive = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        self.calls = 0
        self.successes = 0
        self.failures = 0
        self.rejected = 0
        self.opened = 0
        self.probes = 0

    # -- reading ------------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """The state as a caller would meet it now (an expired cool-down reads as half_open)."""
        if self._state == "open" and self._clock() - self._opened_at >= self.reset_timeout:
            return "half_open"
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive

    def seconds_until_probe(self) -> float:
        if self._state != "open":
            return 0.0
        return max(0.0, self._opened_at + self.reset_timeout - self._clock())

    def stats(self) -> BreakerStats:
        return BreakerStats(
            state=self.state,
            consecutive_failures=self._consecutive,
            failure_threshold=self.failure_threshold,
            reset_timeout=self.reset_timeout,
            retry_after=self.seconds_until_probe(),
            calls=self.calls,
            successes=self.successes,
            failures=self.failures,
            rejected=self.rejected,
            opened=self.opened,
            probes=self.probes,
        )

    # -- the protocol around one call ---------------------------------------------------------

    def before_call(self) -> bool:
        """Admit a call or raise `CircuitOpen`. Returns True when the admitted call is the probe.

        The caller must then report exactly one of `record_success`, `record_failure` or
        `release(probe)` (for a call that ended without telling anything about Vault).
        """
        state = self._state
        if state == "closed":
            self.calls += 1
            return False
        if state == "open":
            waited = self._clock() - self._opened_at
            if waited < self.reset_timeout:
                self.rejected += 1
                raise CircuitOpen(
                    "the secret store is unavailable (circuit open)",
                    retry_after=max(1, math.ceil(self.reset_timeout - waited)),
                )
            self._state = "half_open"
        # half_open: one probe at a time
        if self._probe_in_flight:
            self.rejected += 1
            raise CircuitOpen("the secret store is unavailable (recovery probe in flight)", retry_after=1)
        self._probe_in_flight = True
        self.calls += 1
        self.probes += 1
        return True

    def record_success(self, probe: bool = False) -> None:
        """Vault answered (with data or with a non-transient error): the run of failures ends."""
        self.successes += 1
        self._consecutive = 0
        if probe:
            self._probe_in_flight = False
        # Any answer proves Vault is back, whoever brought the news (a late call, a health check).
        if self._state != "closed":
            self._state = "closed"
            self._probe_in_flight = False

    def record_failure(self, probe: bool = False) -> None:
        """A transient failure: Vault unreachable, sealed, timing out or failing."""
        self.failures += 1
        self._consecutive += 1
        if probe:
            self._probe_in_flight = False
        if self._state == "half_open" or (self._state == "closed" and self._consecutive >= self.failure_threshold):
            self._trip()
        # open: a late failure of a call admitted before the trip changes nothing (no fresh cool-down)

    def release(self, probe: bool) -> None:
        """The admitted call ended without a verdict (cancelled, unexpected bug)."""
        if probe:
            self._probe_in_flight = False

    def _trip(self) -> None:
        self._state = "open"
        self._opened_at = self._clock()
        self._probe_in_flight = False
        self.opened += 1
