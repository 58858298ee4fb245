"""The circuit breaker's state machine, on an injected clock."""

from __future__ import annotations

import pytest

from adapters.vault.breaker import CircuitBreaker, CircuitOpen
from domain.errors import VaultUnavailable
from tests.fakes.clock import FakeClock

pytestmark = pytest.mark.unit


def fail(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        probe = breaker.before_call()
        breaker.record_failure(probe)


def succeed(breaker: CircuitBreaker) -> None:
    probe = breaker.before_call()
    breaker.record_success(probe)


def test_starts_closed_and_lets_calls_through(clock: FakeClock) -> None:
    breaker = CircuitBreaker(clock=clock.monotonic)
    assert breaker.state == "closed"
    assert breaker.before_call() is False
    breaker.record_success()
    assert (breaker.calls, breaker.successes, breaker.rejected) == (1, 1, 0)


def test_opens_after_threshold_consecutive_failures(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=5, reset_timeout=10, clock=clock.monotonic)
    fail(breaker, 4)
    assert breaker.state == "closed"
    assert breaker.consecutive_failures == 4
    fail(breaker)
    assert breaker.state == "open"
    assert breaker.opened == 1


def test_an_answer_from_vault_resets_the_run_of_failures(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=3, clock=clock.monotonic)
    fail(breaker, 2)
    succeed(breaker)
    fail(breaker, 2)
    assert breaker.state == "closed"
    assert breaker.consecutive_failures == 2


def test_open_fails_fast_with_retry_after_until_the_cool_down_ends(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10, clock=clock.monotonic)
    fail(breaker)
    clock.advance(2.5)
    with pytest.raises(CircuitOpen) as caught:
        breaker.before_call()
    assert isinstance(caught.value, VaultUnavailable)  # entrypoints map it to 503 + Retry-After
    assert caught.value.retry_after == 8  # ceil(10 - 2.5)
    assert breaker.seconds_until_probe() == pytest.approx(7.5)
    clock.advance(7.4)
    with pytest.raises(CircuitOpen) as caught:
        breaker.before_call()
    assert caught.value.retry_after == 1  # never 0
    assert breaker.rejected == 2
    assert breaker.calls == 1  # only the call that failed reached Vault


def test_half_open_lets_exactly_one_probe_through(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10, clock=clock.monotonic)
    fail(breaker)
    clock.advance(10)
    assert breaker.state == "half_open"
    assert breaker.before_call() is True  # the probe
    for _ in range(3):
        with pytest.raises(CircuitOpen) as caught:
            breaker.before_call()
        assert caught.value.retry_after == 1
    assert (breaker.probes, breaker.rejected) == (1, 3)


def test_probe_success_closes(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=10, clock=clock.monotonic)
    fail(breaker, 2)
    clock.advance(11)
    probe = breaker.before_call()
    breaker.record_success(probe)
    assert breaker.state == "closed"
    assert breaker.consecutive_failures == 0
    assert breaker.before_call() is False
    assert breaker.before_call() is False  # no single-probe limit once closed


def test_probe_failure_reopens_for_a_fresh_cool_down(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=10, clock=clock.monotonic)
    fail(breaker, 2)
    clock.advance(10)
    probe = breaker.before_call()
    clock.advance(3)  # the probe took a while to fail
    breaker.record_failure(probe)
    assert breaker.state == "open"
    assert breaker.opened == 2
    assert breaker.seconds_until_probe() == pytest.approx(10)
    clock.advance(9.9)
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    clock.advance(0.1)
    assert breaker.before_call() is True


def test_a_probe_without_verdict_frees_the_slot(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=1, clock=clock.monotonic)
    fail(breaker)
    clock.advance(1)
    probe = breaker.before_call()
    breaker.release(probe)  # e.g. the request was cancelled
    assert breaker.before_call() is True  # a new probe may go


def test_late_failure_while_open_does_not_extend_the_cool_down(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10, clock=clock.monotonic)
    slow = breaker.before_call()  # admitted while closed
    fail(breaker)
    clock.advance(5)
    breaker.record_failure(slow)  # the slow one times out later
    assert breaker.seconds_until_probe() == pytest.approx(5)
    assert breaker.opened == 1


def test_any_answer_closes_an_open_breaker(clock: FakeClock) -> None:
    # A health check (or a late call) that reaches Vault proves it is back.
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10, clock=clock.monotonic)
    fail(breaker)
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.before_call() is False


def test_stats_snapshot(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=4, clock=clock.monotonic)
    fail(breaker, 2)
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    clock.advance(1)
    stats = breaker.stats()
    assert stats.state == "open"
    assert stats.retry_after == pytest.approx(3)
    assert (stats.calls, stats.failures, stats.rejected, stats.opened, stats.consecutive_failures) == (2, 2, 1, 1, 2)


@pytest.mark.parametrize("kwargs", [{"failure_threshold": 0}, {"reset_timeout": 0}])
def test_rejects_nonsense_settings(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(**kwargs)
