"""GitHub's REST API over httpx: who a token belongs to, its scopes, type and expiry."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.providers.http import DEFAULT_RETRY_AFTER, parse_retry_after, raise_if_unavailable, scrub, send
from domain.providers import GITHUB, GitHubTokenInfo, ProviderRejected, ProviderUnavailable, github_token_type
from domain.values import SecretValue

log = logging.getLogger(__name__)

DEFAULT_GITHUB_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"


class GitHubTokenValidatorHttp:
    """Implements `domain.ports.GitHubTokenValidator` with `GET {api_url}/user`."""

    def __init__(
        self,
        api_url: str,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = api_url.rstrip("/") + "/user"
        self._repos_url = api_url.rstrip("/") + "/user/repos"
        self._http = http
        self._clock = clock

    async def validate(self, token: SecretValue) -> GitHubTokenInfo:
        if not isinstance(token, SecretValue):
            raise TypeError("token must be a SecretValue")
        headers = {
            "Authorization": f"Bearer {token.reveal()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        response = await send(self._http, GITHUB, "GET", self._url, headers=headers)
        status = response.status_code
        if status == 200:
            info = self._info(response, token)
            return replace(info, repository_count=await self._repository_count(headers, info))
        limited = status in (403, 429) and self._rate_limited(response)
        raise_if_unavailable(GITHUB, response, rate_limited=limited, retry_after=self._retry_after(response))
        message = scrub(_message(response) or f"HTTP {status}", token)
        log.info("github token rejected", extra={"github_status": status})
        raise ProviderRejected(GITHUB, f"GitHub answered: {message}")

    def _info(self, response: httpx.Response, token: SecretValue) -> GitHubTokenInfo:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("login"), str) or "id" not in body:
            raise ProviderUnavailable(GITHUB, reason="unexpected answer to GET /user")
        expires_at = None
        expiration = response.headers.get("GitHub-Authentication-Token-Expiration")
        if expiration:
            try:
                expires_at = parse_github_token_expiration(expiration)
            except ValueError:
                log.warning("unparseable GitHub token expiration header", extra={"header_value": expiration})
        token_type = github_token_type(token)
        log.info("github token validated", extra={"github_login": body["login"], "github_token_type": token_type})
        return GitHubTokenInfo(
            username=body["login"],
            user_id=int(body["id"]),
            scopes=parse_oauth_scopes(response.headers.get("X-OAuth-Scopes")),
            token_type=token_type,
            expires_at=expires_at,
            public_repos=_int(body.get("public_repos")) or 0,
            total_private_repos=_int(body.get("total_private_repos")),
        )

    async def _repository_count(self, headers: dict[str, str], info: GitHubTokenInfo) -> int | None:
        """Every repository the token reaches, counted from one page of one: with `per_page=1` the
        `Link` header's last page IS the count, so no page is walked. Falls back to what `GET /user`
        said (owned repositories) when the listing can't be had."""
        fallback = info.public_repos + info.total_private_repos if info.total_private_repos is not None else None
        try:
            response = await send(self._http, GITHUB, "GET", self._repos_url, params={"per_page": "1"}, headers=headers)
        except ProviderUnavailable:
            return fallback
        if response.status_code != 200:
            return fallback
        pages = last_page(response.headers.get("Link"))
        if pages is not None:
            return pages
        try:
            body = response.json()
        except ValueError:
            return fallback
        return len(body) if isinstance(body, list) else fallback

    @staticmethod
    def _rate_limited(response: httpx.Response) -> bool:
        # Primary limit: remaining 0. Secondary limits: a Retry-After, or a 429 in any case.
        return (
            response.status_code == 429
            or response.headers.get("x-ratelimit-remaining") == "0"
            or "Retry-After" in response.headers
        )

    def _retry_after(self, response: httpx.Response) -> int:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None:
            return max(1, retry_after)
        reset = response.headers.get("x-ratelimit-reset")
        if reset and reset.strip().isdigit():
            return max(1, int(reset) - int(self._clock()))
        return DEFAULT_RETRY_AFTER


def _message(response: httpx.Response) -> str | None:
    try:
        body: Any = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# GitHub's own headers, parsed where the call is made.


def parse_github_token_expiration(header: str) -> datetime:
    """Parse `GitHub-Authentication-Token-Expiration`, in UTC.

    GitHub has sent both `2026-09-03 02:34:04 UTC` and `2026-09-03 02:34:04 +0200`.
    Raises ValueError for anything else.
    """
    text = header.strip()
    if text.upper().endswith(" UTC"):
        parsed = datetime.strptime(text[:-4].strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    else:
        parsed = datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
    return parsed.astimezone(UTC)


def parse_oauth_scopes(header: str | None) -> tuple[str, ...]:
    """`X-OAuth-Scopes: repo, read:org` → ("repo", "read:org"); absent or empty → ()."""
    if not header:
        return ()
    return tuple(scope.strip() for scope in header.split(",") if scope.strip())


_LAST_PAGE = re.compile(r'<[^>]*[?&]page=([0-9]+)[^>]*>;\s*rel="last"')


def last_page(link_header: str | None) -> int | None:
    """The `page` of the `rel="last"` entry of an RFC 8288 `Link` header (GitHub's pagination)."""
    if not link_header:
        return None
    match = _LAST_PAGE.search(link_header)
    return int(match.group(1)) if match else None
