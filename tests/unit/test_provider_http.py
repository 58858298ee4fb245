"""The one provider HTTP mapping (adapters/providers/http.py) on httpx's in-memory transport."""

from __future__ import annotations

import httpx
import pytest

from adapters.providers.http import (
    DEFAULT_RETRY_AFTER,
    MAX_MESSAGE,
    USER_AGENT,
    raise_if_unavailable,
    scrub,
    send,
)
from domain.providers import ProviderRateLimited, ProviderUnavailable
from domain.values import SecretValue

pytestmark = pytest.mark.unit


def client(handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_send_carries_our_user_agent_and_the_callers_headers():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    async with client(answer) as http:
        await send(http, "railway", "POST", "https://p.test/graphql", headers={"Accept": "application/json"}, json={})
    assert seen[0].headers["user-agent"] == USER_AGENT and seen[0].headers["accept"] == "application/json"


@pytest.mark.parametrize(
    ("host", "timeout_reason", "refused_reason"),
    [
        (None, "timed out", "unreachable (ConnectError)"),
        ("r.test", "r.test timed out", "r.test is unreachable (ConnectError)"),
    ],
)
async def test_transport_failures_are_unavailable_and_drop_the_request(host, timeout_reason, refused_reason):
    def times_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refuses(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    for handler, reason in ((times_out, timeout_reason), (refuses, refused_reason)):
        async with client(handler) as http:
            with pytest.raises(ProviderUnavailable) as raised:
                await send(http, "github", "GET", "https://g.test/user", host=host, headers={"Authorization": "x"})
        assert raised.value.reason == reason
        assert raised.value.__cause__ is None and raised.value.__suppress_context__


@pytest.mark.parametrize(
    ("status", "headers", "raised", "delay"),
    [
        (429, {}, ProviderRateLimited, DEFAULT_RETRY_AFTER),
        (429, {"Retry-After": "7"}, ProviderRateLimited, 7),
        (503, {"Retry-After": "12"}, ProviderUnavailable, 12),
        (500, {}, ProviderUnavailable, None),
    ],
)
def test_overload_answers_map_to_domain_errors(status, headers, raised, delay):
    with pytest.raises(raised) as caught:
        raise_if_unavailable("railway", httpx.Response(status, headers=headers))
    assert caught.value.retry_after == delay


def test_other_answers_are_left_to_the_adapter_and_a_signalled_limit_counts():
    raise_if_unavailable("github", httpx.Response(401))
    with pytest.raises(ProviderRateLimited) as caught:
        raise_if_unavailable("github", httpx.Response(403), rate_limited=True, retry_after=30)
    assert caught.value.retry_after == 30


def test_scrub_masks_the_credential_and_truncates():
    token = SecretValue("tok-123")
    assert scrub("bad token tok-123", token) == "bad token ********"
    assert len(scrub("x" * 1000, token)) == MAX_MESSAGE
