"""Rate limits on in-process counters: per-user provider budgets and per-address login failures."""

from __future__ import annotations

import pytest

from adapters.ratelimit.windows import InMemoryWindows
from domain.rate_limits import Limit, RateLimited, RateLimits
from entrypoints.container import build_rate_limits
from entrypoints.settings import SettingsError, load_rate_limit_settings, load_settings

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 16_667 * 60 + 20.0  # 20 s into a minute window

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limits(clock) -> RateLimits:
    return RateLimits(InMemoryWindows(clock), provider_calls=Limit(3, 60), failed_auth=Limit(2, 60), clock=clock)


async def test_a_user_gets_the_budget_then_429_until_the_window_ends(limits, clock):
    for _ in range(3):
        await limits.spend_provider_call("alice")
    with pytest.raises(RateLimited) as refused:
        await limits.spend_provider_call("alice")
    assert refused.value.retry_after == 40
    await limits.spend_provider_call("bob")  # budgets are per user
    clock.now += 40
    await limits.spend_provider_call("alice")


async def test_an_address_is_refused_after_its_failed_logins_until_the_window_ends(limits, clock):
    await limits.check_address("10.0.0.1")
    await limits.failed_authentication("10.0.0.1")
    await limits.check_address("10.0.0.1")
    await limits.failed_authentication("10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        await limits.check_address("10.0.0.1")
    assert refused.value.retry_after == 40
    await limits.check_address("10.0.0.2")
    clock.now += 40
    await limits.check_address("10.0.0.1")


def test_limits_are_settings_with_defaults():
    assert load_rate_limit_settings({}).provider_calls == Limit(10, 60)
    parsed = load_rate_limit_settings({"RATE_LIMIT_PROVIDER_CALLS": "5/hour", "RATE_LIMIT_FAILED_AUTH": "7/second"})
    assert (parsed.provider_calls, parsed.failed_auth) == (Limit(5, 3600), Limit(7, 1))
    for bad in ("10", "ten/minute", "0/minute", "5/fortnight"):
        with pytest.raises(SettingsError):
            load_rate_limit_settings({"RATE_LIMIT_PROVIDER_CALLS": bad})


def test_without_redis_the_counters_are_in_process(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text("unused")
    env = {
        "VAULT_ADDR": "http://127.0.0.1:8200",
        "VAULT_TOKEN": "t",
        "DATABASE_URL": "sqlite+aiosqlite:///x.db",
        "AUTH_ISSUER": "i",
        "AUTH_AUDIENCE": "a",
        "AUTH_PUBLIC_KEY_FILE": str(key),
    }
    assert isinstance(build_rate_limits(load_settings(env)).counter, InMemoryWindows)
