"""Docker registry logins over httpx, done the way `docker login` does them.

Ping `GET /v2/`; a 401 names the scheme in `WWW-Authenticate`. Basic: repeat the ping with the
credentials. Bearer: fetch a token from the challenge's realm with the credentials as Basic auth,
then repeat the ping with the token. Only a final 200 is a successful login.

Decision: a registry that can't be reached (DNS failure, refused connection, timeout) or that
answers 5xx raises `ProviderUnavailable` rather than returning `valid=False`: "we could not ask"
is not "your password is wrong", and the API turns it into a 503 the user can retry.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

import httpx

from adapters.providers.http import USER_AGENT, raise_if_unavailable, send
from domain.providers import (
    DOCKER_HUB,
    DOCKER_HUB_API,
    DOCKER_REGISTRY,
    RegistryLoginResult,
    normalize_registry,
)
from domain.values import SecretValue

log = logging.getLogger(__name__)

CLIENT_ID = USER_AGENT

_CHALLENGE_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


def registry_base_url(registry: str, insecure_registries: frozenset[str] = frozenset()) -> str:
    """`https://host[:port]` (http for hosts in `insecure_registries`); Docker Hub → registry-1."""
    host = normalize_registry(registry)
    if host == DOCKER_HUB:
        return f"https://{DOCKER_HUB_API}"
    scheme = "http" if host in insecure_registries else "https"
    return f"{scheme}://{host}"


def parse_www_authenticate(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="...",service="..."` → ("bearer", {"realm": ..., "service": ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {}
    for match in _CHALLENGE_PARAM.finditer(rest):
        quoted, bare = match.group(2), match.group(3)
        value = quoted.replace('\\"', '"') if quoted is not None else bare
        params[match.group(1).lower()] = value
    return scheme.lower(), params


class DockerRegistryLoginTester:
    """Implements `domain.ports.RegistryLoginTester`."""

    def __init__(self, http: httpx.AsyncClient, insecure_registries: frozenset[str] = frozenset()) -> None:
        self._http = http
        self._insecure = frozenset(normalize_registry(host) for host in insecure_registries)

    async def test(self, registry: str, username: str, password: SecretValue) -> RegistryLoginResult:
        if not isinstance(password, SecretValue):
            raise TypeError("password must be a SecretValue")
        base = registry_base_url(registry, self._insecure)
        ping_url = f"{base}/v2/"
        host = urlsplit(base).netloc

        ping = await self._get(host, ping_url, follow_redirects=True)
        if ping.status_code == 200:
            return self._done(
                host,
                True,
                "the registry requires no authentication: it answered GET /v2/ with 200 "
                "without credentials, so the credentials were not checked",
                "none",
            )
        if ping.status_code == 404:
            return self._done(host, False, f"{host} is not a Docker registry (GET /v2/ answered 404)", None)
        if ping.status_code != 401:
            return self._done(host, False, f"unexpected answer to GET /v2/: HTTP {ping.status_code}", None)

        challenge = ping.headers.get("WWW-Authenticate")
        if not challenge:
            return self._done(host, False, "GET /v2/ answered 401 without a WWW-Authenticate challenge", None)
        scheme, params = parse_www_authenticate(challenge)
        if scheme == "basic":
            return await self._basic(host, ping_url, username, password)
        if scheme == "bearer":
            return await self._bearer(host, ping_url, params, username, password)
        return self._done(host, False, f"unsupported authentication scheme {scheme!r}", None)

    async def _basic(self, host: str, ping_url: str, username: str, password: SecretValue) -> RegistryLoginResult:
        auth = httpx.BasicAuth(username, password.reveal())
        answer = await self._get(host, ping_url, auth=auth)
        if answer.status_code == 200:
            return self._done(host, True, f"logged in to {host} as {username} (basic auth)", "basic")
        if answer.status_code in (401, 403):
            return self._done(
                host, False, f"{host} rejected the credentials for {username} (HTTP {answer.status_code})", "basic"
            )
        return self._done(
            host, False, f"unexpected answer to GET /v2/ with basic auth: HTTP {answer.status_code}", "basic"
        )

    async def _bearer(
        self,
        host: str,
        ping_url: str,
        params: dict[str, str],
        username: str,
        password: SecretValue,
    ) -> RegistryLoginResult:
        realm = params.get("realm")
        if not realm:
            return self._done(host, False, "the Bearer challenge names no realm", "bearer")
        realm_parts = urlsplit(realm)
        if realm_parts.scheme not in ("http", "https") or not realm_parts.netloc:
            return self._done(host, False, "the Bearer challenge's realm is not an http(s) URL", "bearer")
        # Credentials only go over plain http where the operator allowed plain http.
        if realm_parts.scheme == "http" and not (
            ping_url.startswith("http://") or realm_parts.netloc.lower() in self._insecure
        ):
            return self._done(host, False, "refusing to send credentials to a plain-http token realm", "bearer")

        query = {"account": username, "client_id": CLIENT_ID, "offline_token": "true"}
        if params.get("service"):
            query["service"] = params["service"]
        if params.get("scope"):
            query["scope"] = params["scope"]
        auth = httpx.BasicAuth(username, password.reveal())
        realm_host = realm_parts.netloc
        answer = await self._get(realm_host, realm, params=query, auth=auth)
        if answer.status_code in (401, 403):
            return self._done(
                host,
                False,
                f"the token service at {realm_host} rejected the credentials for {username} "
                f"(HTTP {answer.status_code})",
                "bearer",
            )
        if answer.status_code != 200:
            return self._done(
                host,
                False,
                f"unexpected answer from the token service at {realm_host}: HTTP {answer.status_code}",
                "bearer",
            )
        try:
            body = answer.json()
        except ValueError:
            body = None
        token = None
        if isinstance(body, dict):
            token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            return self._done(host, False, f"the token service at {realm_host} answered without a token", "bearer")

        final = await self._get(host, ping_url, headers={"Authorization": f"Bearer {token}"})
        if final.status_code == 200:
            return self._done(host, True, f"logged in to {host} as {username} (token auth)", "bearer")
        return self._done(
            host, False, f"{host} refused the token from {realm_host} (HTTP {final.status_code})", "bearer"
        )

    async def _get(
        self,
        host: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        auth: httpx.Auth | None = None,
        headers: dict[str, str] | None = None,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        response = await send(
            self._http,
            DOCKER_REGISTRY,
            "GET",
            url,
            host=host,
            params=params,
            auth=auth,
            headers=headers,
            follow_redirects=follow_redirects,
        )
        raise_if_unavailable(DOCKER_REGISTRY, response, host=host)
        return response

    @staticmethod
    def _done(host: str, valid: bool, detail: str, scheme: str | None) -> RegistryLoginResult:
        log.info("registry login tested", extra={"registry": host, "login_valid": valid, "auth_scheme": scheme})
        return RegistryLoginResult(valid=valid, detail=detail, scheme=scheme)
