"""ResilientSecretVault on the in-memory vault: what is retried, what is not, and fail-fast."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from adapters.vault.breaker import CircuitBreaker, CircuitOpen
from adapters.vault.resilient import ResilientSecretVault, certainly_not_applied, is_transient
from domain.errors import SecretNotFound, VaultRefused, VaultUnavailable, VersionConflict
from domain.ports import VaultHealth
from domain.secrets import VaultEntry
from domain.values import SecretValue
from tests.fakes.clock import FakeClock
from tests.fakes.vault import InMemorySecretVault

pytestmark = pytest.mark.unit


class FlakyVault:
    """Delegates to an InMemorySecretVault after failing the next `fail_next` calls.

    `mode="refused"`: the failure is a refused connection (the request never reached Vault).
    `mode="lost"`: the request is *applied* and then its answer is lost (like a read timeout).
    """

    def __init__(self, inner: InMemorySecretVault) -> None:
        self.inner = inner
        self.fail_next = 0
        self.mode = "refused"
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def total(self) -> int:
        return sum(self.calls.values())

    def _failure(self) -> VaultUnavailable | None:
        if self.fail_next <= 0:
            return None
        self.fail_next -= 1
        error = VaultUnavailable("the secret store did not answer")
        error.__cause__ = (
            ConnectionRefusedError(111, "Connection refused") if self.mode == "refused" else TimeoutError()
        )
        return error

    async def _do(self, name: str, coro):
        self._count(name)
        failure = self._failure()
        if failure is not None and self.mode == "refused":
            coro.close()
            raise failure
        result = await coro  # "lost": the operation lands...
        if failure is not None:
            raise failure  # ...and then the answer never arrives
        return result

    async def read(self, path: str, version: int | None = None) -> VaultEntry:
        return await self._do("read", self.inner.read(path, version))

    async def read_metadata(self, path: str):
        return await self._do("read_metadata", self.inner.read_metadata(path))

    async def write(self, path: str, data: Mapping[str, SecretValue], *, cas: int) -> VaultEntry:
        return await self._do("write", self.inner.write(path, data, cas=cas))

    async def set_custom_metadata(self, path: str, custom: Mapping[str, str]) -> None:
        return await self._do("set_custom_metadata", self.inner.set_custom_metadata(path, custom))

    async def soft_delete(self, path: str) -> None:
        return await self._do("soft_delete", self.inner.soft_delete(path))

    async def health(self) -> VaultHealth:
        self._count("health")
        return await self.inner.health()


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def memory() -> InMemorySecretVault:
    return InMemorySecretVault()


@pytest.fixture
def flaky(memory: InMemorySecretVault) -> FlakyVault:
    return FlakyVault(memory)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def resilient(flaky: FlakyVault, clock: FakeClock, sleeps: Sleeps, *, threshold: int = 5, attempts: int = 3):
    breaker = CircuitBreaker(failure_threshold=threshold, reset_timeout=10, clock=clock.monotonic)
    return ResilientSecretVault(flaky, breaker=breaker, attempts=attempts, base_delay=0.05, max_delay=1.0, sleep=sleeps)


def value(text: str) -> dict[str, SecretValue]:
    return {"token": SecretValue(text)}


async def test_a_read_that_fails_twice_then_works_is_retried_with_backoff(flaky, clock, sleeps) -> None:
    vault = resilient(flaky, clock, sleeps)
    await flaky.inner.write("p", value("v1"), cas=0)
    flaky.fail_next = 2
    entry = await vault.read("p")
    assert entry.data["token"].reveal() == "v1"
    assert flaky.calls["read"] == 3
    assert vault.retries == 2
    assert len(sleeps.delays) == 2
    # exponential with jitter: retry 1 in [0.05, 0.10], retry 2 in [0.10, 0.15]
    assert 0.05 <= sleeps.delays[0] <= 0.10
    assert 0.10 <= sleeps.delays[1] <= 0.15
    assert vault.state == "closed"


async def test_reads_give_up_after_the_attempts(flaky, clock, sleeps) -> None:
    vault = resilient(flaky, clock, sleeps, attempts=3)
    flaky.fail_next = 10
    with pytest.raises(VaultUnavailable):
        await vault.read("p")
    assert flaky.calls["read"] == 3


async def test_backoff_is_capped(flaky, clock, sleeps) -> None:
    breaker = CircuitBreaker(failure_threshold=100, clock=clock.monotonic)
    vault = ResilientSecretVault(flaky, breaker=breaker, attempts=8, base_delay=0.05, max_delay=0.3, sleep=sleeps)
    flaky.fail_next = 100
    with pytest.raises(VaultUnavailable):
        await vault.read_metadata("p")
    assert flaky.calls["read_metadata"] == 8
    assert len(sleeps.delays) == 7
    assert max(sleeps.delays) <= 0.3
    assert sleeps.delays[-1] == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("error", "operation"),
    [
        (SecretNotFound, "read"),
        (VaultRefused, "read"),
        (VersionConflict, "write"),
        (SecretNotFound, "soft_delete"),
    ],
)
async def test_non_transient_errors_are_not_retried(flaky, clock, sleeps, error, operation) -> None:
    vault = resilient(flaky, clock, sleeps)
    await flaky.inner.write("exists", value("v1"), cas=0)

    async def refuse(*args, **kwargs):
        flaky._count(operation)
        raise error("no")

    setattr(flaky, operation, refuse)
    call = {
        "read": lambda: vault.read("p"),
        "write": lambda: vault.write("p", value("x"), cas=7),
        "soft_delete": lambda: vault.soft_delete("p"),
    }[operation]
    with pytest.raises(error):
        await call()
    assert flaky.calls[operation] == 1
    assert sleeps.delays == []
    assert vault.breaker.consecutive_failures == 0  # Vault answered: that is not an outage


async def test_not_found_from_the_real_fake_is_not_retried(flaky, clock, sleeps) -> None:
    vault = resilient(flaky, clock, sleeps)
    with pytest.raises(SecretNotFound):
        await vault.read("missing")
    assert flaky.calls["read"] == 1


async def test_a_write_refused_at_connect_is_retried_and_lands_once(flaky, clock, sleeps) -> None:
    vault = resilient(flaky, clock, sleeps)
    flaky.fail_next = 2
    flaky.mode = "refused"
    entry = await vault.write("p", value("v1"), cas=0)
    assert entry.version == 1
    assert flaky.calls["write"] == 3
    assert flaky.inner.writes == 1


async def test_a_write_whose_answer_was_lost_is_not_retried(flaky, clock, sleeps) -> None:
    # Retrying would come back as VersionConflict for a write that in fact landed.
    vault = resilient(flaky, clock, sleeps)
    flaky.fail_next = 1
    flaky.mode = "lost"
    with pytest.raises(VaultUnavailable):
        await vault.write("p", value("v1"), cas=0)
    assert flaky.calls["write"] == 1
    assert flaky.inner.writes == 1  # it did land: the caller was told "unknown", not "conflict"
    # The caller's own retry with the same check-and-set learns the truth:
    with pytest.raises(VersionConflict):
        await vault.write("p", value("v1"), cas=0)
    assert (await vault.read("p")).version == 1


async def test_soft_delete_is_not_retried_after_a_lost_answer(flaky, clock, sleeps) -> None:
    vault = resilient(flaky, clock, sleeps)
    await flaky.inner.write("p", value("v1"), cas=0)
    flaky.fail_next = 1
    flaky.mode = "lost"
    with pytest.raises(VaultUnavailable):
        await vault.soft_delete("p")
    assert flaky.calls["soft_delete"] == 1


async def test_idempotent_metadata_update_is_retried_after_a_lost_answer(flaky, clock, sleeps) -> None:
    vault = resilient(flaky, clock, sleeps)
    await flaky.inner.write("p", value("v1"), cas=0)
    flaky.fail_next = 1
    flaky.mode = "lost"
    await vault.set_custom_metadata("p", {"secret_type": "railway"})
    assert flaky.calls["set_custom_metadata"] == 2
    assert (await vault.read_metadata("p")).custom == {"secret_type": "railway"}


async def test_breaker_opens_and_then_fails_fast_without_calling_vault(flaky, clock, sleeps) -> None:
    vault = resilient(flaky, clock, sleeps, threshold=5, attempts=3)
    flaky.fail_next = 1000
    with pytest.raises(VaultUnavailable):
        await vault.read("p")  # 3 attempts
    with pytest.raises(CircuitOpen):
        await vault.read("p")  # 2 attempts trip it; the third is refused by the breaker
    assert flaky.total() == 5
    assert vault.state == "open"
    for call in (
        lambda: vault.read("p"),
        lambda: vault.read_metadata("p"),
        lambda: vault.write("p", value("x"), cas=0),
        lambda: vault.set_custom_metadata("p", {}),
        lambda: vault.soft_delete("p"),
    ):
        with pytest.raises(CircuitOpen) as caught:
            await call()
        assert caught.value.retry_after == 10
    assert flaky.total() == 5  # not one more call reached the inner vault
    assert vault.breaker.rejected == 6


async def test_after_the_cool_down_one_probe_closes_the_breaker(flaky, clock, sleeps) -> None:
    vault = resilient(flaky, clock, sleeps, threshold=2, attempts=1)
    await flaky.inner.write("p", value("v1"), cas=0)
    flaky.fail_next = 2
    for _ in range(2):
        with pytest.raises(VaultUnavailable):
            await vault.read("p")
    assert vault.state == "open"
    clock.advance(10)
    assert vault.state == "half_open"
    assert (await vault.read("p")).version == 1  # the probe
    assert vault.state == "closed"
    assert vault.breaker.probes == 1
    assert (await vault.read("p")).version == 1


async def test_only_one_probe_while_half_open(memory, clock, sleeps) -> None:
    gate = asyncio.Event()

    class SlowVault(FlakyVault):
        async def read(self, path, version=None):
            self._count("read")
            await gate.wait()
            return await self.inner.read(path, version)

    slow = SlowVault(memory)
    await memory.write("p", value("v1"), cas=0)
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10, clock=clock.monotonic)
    vault = ResilientSecretVault(slow, breaker=breaker, attempts=1, sleep=sleeps)
    breaker.record_failure()
    clock.advance(10)
    probe = asyncio.create_task(vault.read("p"))
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpen):
        await vault.read("p")
    gate.set()
    assert (await probe).version == 1
    assert slow.calls["read"] == 1
    assert vault.state == "closed"


async def test_a_cancelled_probe_frees_the_slot(memory, clock, sleeps) -> None:
    class HangingVault(FlakyVault):
        async def read(self, path, version=None):
            self._count("read")
            await asyncio.Event().wait()

    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=10, clock=clock.monotonic)
    vault = ResilientSecretVault(HangingVault(memory), breaker=breaker, attempts=1, sleep=sleeps)
    breaker.record_failure()
    clock.advance(10)
    probe = asyncio.create_task(vault.read("p"))
    await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert breaker.before_call() is True  # the next caller may probe


async def test_health_is_never_blocked_by_the_breaker_and_reopens_it(flaky, memory, clock, sleeps) -> None:
    vault = resilient(flaky, clock, sleeps, threshold=1, attempts=1)
    memory.available = False
    with pytest.raises(VaultUnavailable):
        await vault.read("p")
    assert vault.state == "open"
    health = await vault.health()
    assert health.reachable is False
    assert flaky.calls["health"] == 1  # it reached the inner vault although the breaker is open
    memory.available = True
    health = await vault.health()
    assert (health.reachable, health.sealed) == (True, False)
    assert vault.state == "closed"  # a healthy answer closes the breaker


def test_classification() -> None:
    refused = VaultUnavailable()
    refused.__cause__ = ConnectionRefusedError()
    lost = VaultUnavailable()
    lost.__cause__ = TimeoutError()
    assert is_transient(refused) and certainly_not_applied(refused)
    assert is_transient(lost) and not certainly_not_applied(lost)
    assert not is_transient(CircuitOpen())
    assert not certainly_not_applied(CircuitOpen())
    assert not is_transient(SecretNotFound("x"))


class _FrozenVault(InMemorySecretVault):
    """Accepts the call and never answers, like a SIGSTOPped Vault."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def read(self, path: str, version: int | None = None) -> VaultEntry:
        self.reads += 1
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_frozen_vault_costs_one_budget_not_one_per_attempt() -> None:
    from adapters.vault.resilient import BudgetExhausted

    frozen = _FrozenVault()
    breaker = CircuitBreaker(failure_threshold=5)
    vault = ResilientSecretVault(frozen, breaker=breaker, attempts=3, budget=0.2)
    with pytest.raises(BudgetExhausted) as raised:
        await vault.read("users/a/custom/k")
    assert is_transient(raised.value)
    assert frozen.reads == 1  # the budget was spent on the first attempt: no retry past it
    assert breaker.stats().failures == 1


async def test_no_backoff_is_slept_past_the_budget() -> None:
    failing = InMemorySecretVault()
    failing.available = False  # every call a transient VaultUnavailable at once
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    vault = ResilientSecretVault(
        failing, breaker=CircuitBreaker(failure_threshold=10), attempts=5, base_delay=1.0, budget=0.5, sleep=sleep
    )
    with pytest.raises(VaultUnavailable):
        await vault.read("users/a/custom/k")
    assert slept == []  # the first backoff (>= 1 s) would end past the 0.5 s budget
