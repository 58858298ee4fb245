"""GitHub's REST API over httpx: who a token belongs to, its scopes, type and expiry."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx

from domain.providers import (
    GITHUB,
    GitHubTokenInfo,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    github_token_type,
    last_page,
    parse_github_token_expiration,
    parse_oauth_scopes,
    parse_retry_after,
)
from domain.values import SecretValue

log = logging.getLogger(__name__)

DEFAULT_GITHUB_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
USER_AGENT = "mirage-secrets"
DEFAULT_RETRY_AFTER = 60
_MAX_MESSAGE = 300


class GitHubTokenValidatorHttp:
    """Implements `domain.providers.GitHubTokenValidator` with `GET {api_url}/user`."""

    def __init__(
        self,
        api_url: str,
        http: httpx.AsyncClient,
        *,
        user_agent: str = USER_AGENT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = api_url.rstrip("/") + "/user"
        self._repos_url = api_url.rstrip("/") + "/user/repos"
        self._http = http
        self._user_agent = user_agent
        self._clock = clock

    async def validate(self, token: SecretValue) -> GitHubTokenInfo:
        if not isinstance(token, SecretValue):
            raise TypeError("token must be a SecretValue")
        headers = {
            "Authorization": f"Bearer {token.reveal()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": self._user_agent,
        }
        try:
            response = await self._http.get(self._url, headers=headers)
        except UnicodeEncodeError:
            # httpx encodes headers as ASCII: a credential outside it was never sent anywhere.
            raise ProviderRejected(GITHUB, "the credential holds characters HTTP headers cannot carry") from None
        except httpx.TimeoutException:
            raise ProviderUnavailable(GITHUB, reason="timed out") from None
        except httpx.HTTPError as exc:
            # `from None`: the httpx error's request would carry the auth header along.
            raise ProviderUnavailable(GITHUB, reason=f"unreachable ({type(exc).__name__})") from None

        status = response.status_code
        if status == 200:
            info = self._info(response, token)
            return replace(info, repository_count=await self._repository_count(headers, info))
        if status in (403, 429) and self._rate_limited(response):
            raise ProviderRateLimited(GITHUB, self._retry_after(response))
        if status >= 500:
            raise ProviderUnavailable(
                GITHUB, parse_retry_after(response.headers.get("Retry-After")), reason=f"HTTP {status}"
            )
        message = _scrub(_message(response) or f"HTTP {status}", token)
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
            response = await self._http.get(self._repos_url, params={"per_page": "1"}, headers=headers)
        except httpx.HTTPError:
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


def _scrub(message: str, token: SecretValue) -> str:
    plain = token.reveal()
    if plain:
        message = message.replace(plain, "********")
    return message[:_MAX_MESSAGE]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
