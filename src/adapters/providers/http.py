"""What every provider adapter does the same way over HTTP: the user agent, transport failures,
429 and 5xx answers, `Retry-After`, and the provider's own words made safe to show.

The domain errors this raises are the only thing that leaves an adapter: `ProviderUnavailable`
("we could not ask": the API's 503), `ProviderRateLimited` (429 with a retry delay). Errors are
raised `from None`: an httpx error carries its request, and the request carries the credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from domain.providers import ProviderRateLimited, ProviderRejected, ProviderUnavailable
from domain.values import SecretValue

USER_AGENT = "mirage-secrets"
# Used when a 429 carries no usable Retry-After.
DEFAULT_RETRY_AFTER = 60
# What a provider says goes into an error the user sees: at most this many characters of it.
MAX_MESSAGE = 300
MASK = "********"


async def send(
    http: httpx.AsyncClient,
    provider: str,
    method: str,
    url: str,
    *,
    host: str | None = None,
    headers: Mapping[str, str] | None = None,
    **options: Any,
) -> httpx.Response:
    """One request with our user agent; a timeout or a transport failure is `ProviderUnavailable`, a
    credential HTTP headers cannot carry (not ASCII) is `ProviderRejected` (nothing was sent).

    `host` names the server in the reason where the provider is not one fixed service (registries).
    """
    try:
        return await http.request(method, url, headers={"User-Agent": USER_AGENT, **(headers or {})}, **options)
    except UnicodeEncodeError:
        # httpx encodes headers as ASCII: a credential outside it was never sent anywhere.
        raise ProviderRejected(provider, "the credential holds characters HTTP headers cannot carry") from None
    except httpx.TimeoutException:
        raise ProviderUnavailable(provider, reason=_where(host, "timed out")) from None
    except httpx.HTTPError as exc:
        unreachable = f"is unreachable ({type(exc).__name__})" if host else f"unreachable ({type(exc).__name__})"
        raise ProviderUnavailable(provider, reason=_where(host, unreachable)) from None


def raise_if_unavailable(
    provider: str,
    response: httpx.Response,
    *,
    host: str | None = None,
    rate_limited: bool = False,
    retry_after: int | None = None,
) -> None:
    """429 (or `rate_limited`, for providers that signal limits otherwise) → `ProviderRateLimited`
    after `retry_after`, else the `Retry-After` header, else `DEFAULT_RETRY_AFTER`; 5xx →
    `ProviderUnavailable` with the header's delay if any. Any other answer is the caller's to read."""
    status = response.status_code
    if status == 429 or rate_limited:
        if retry_after is None:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise ProviderRateLimited(provider, DEFAULT_RETRY_AFTER if retry_after is None else retry_after)
    if status >= 500:
        answered = f"answered HTTP {status}" if host else f"HTTP {status}"
        raise ProviderUnavailable(
            provider, parse_retry_after(response.headers.get("Retry-After")), reason=_where(host, answered)
        )


def scrub(message: str, secret: SecretValue) -> str:
    """The provider's message with the credential masked (some echo it back), cut to `MAX_MESSAGE`."""
    plain = secret.reveal()
    if plain:
        message = message.replace(plain, MASK)
    return message[:MAX_MESSAGE]


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> int | None:
    """`Retry-After` as whole seconds (>= 0): delta-seconds or an HTTP date; None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0, int(delta + 0.999))


def _where(host: str | None, what: str) -> str:
    return f"{host} {what}" if host else what
