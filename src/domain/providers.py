"""Provider credentials: what validating a Railway/GitHub token or a registry login tells us.

Results and errors of the provider adapters (their ports are in `domain.ports`), plus the pure helpers that turn stored
credentials into the formats consumers need. stdlib + msgspec only: the HTTP lives in
`adapters.providers`. Nothing here puts a token in a message, a repr or a log line.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from domain.errors import DomainError, InvalidInput
from domain.values import SecretValue

RAILWAY = "railway"
GITHUB = "github"
DOCKER_REGISTRY = "docker_registry"

_DISPLAY = {RAILWAY: "Railway", GITHUB: "GitHub", DOCKER_REGISTRY: "Docker registry"}


def provider_display_name(provider: str) -> str:
    return _DISPLAY.get(provider, provider)


# --------------------------------------------------------------------------------------------
# Errors


class ProviderError(DomainError):
    """Base of the provider errors; `provider` is one of RAILWAY, GITHUB, DOCKER_REGISTRY."""

    title = "Provider error"

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(message)
        self.provider = provider


class ProviderRejected(ProviderError):
    """The provider answered and said no: the credential (or the request made with it) is bad.

    The message says what the provider answered, e.g. "Railway answered: Not Authorized".
    """

    title = "Provider rejected the credential"


class ProviderUnavailable(ProviderError):
    """The provider could not answer: unreachable, timed out, or a 5xx. Retry later."""

    title = "Provider unavailable"

    def __init__(self, provider: str, retry_after: int | None = None, *, reason: str | None = None) -> None:
        message = f"{provider_display_name(provider)} is unavailable"
        if reason:
            message = f"{message}: {reason}"
        super().__init__(provider, message)
        self.retry_after = retry_after
        self.reason = reason


class ProviderRateLimited(ProviderError):
    """The provider is rate-limiting us; `retry_after` (seconds) is what it asked us to wait."""

    title = "Provider rate limit reached"

    def __init__(self, provider: str, retry_after: int) -> None:
        super().__init__(provider, f"{provider_display_name(provider)} rate limit reached; retry after {retry_after} s")
        self.retry_after = retry_after


# --------------------------------------------------------------------------------------------
# Results

RailwayTokenKind = Literal["account", "workspace", "project"]
RAILWAY_TOKEN_KINDS: frozenset[RailwayTokenKind] = frozenset(get_args(RailwayTokenKind))


def railway_token_kind(value: str | None) -> RailwayTokenKind | None:
    """`value` as a Railway token kind, or None for anything else (an old or damaged record)."""
    for kind in RAILWAY_TOKEN_KINDS:
        if kind == value:
            return kind
    return None


GitHubTokenType = Literal[
    "classic", "fine_grained", "oauth", "user_to_server", "server_to_server", "refresh", "unknown"
]

# What each kind of Railway token can do, as reported by `validate`.
RAILWAY_PERMISSIONS: Mapping[str, tuple[str, ...]] = {
    "account": ("account:read", "projects:read", "projects:write", "variables:read", "variables:write"),
    "workspace": ("projects:read", "projects:write", "variables:read", "variables:write"),
    "project": ("variables:read", "variables:write"),
}


@dataclass(frozen=True, slots=True)
class RailwayTokenInfo:
    kind: RailwayTokenKind
    permissions: tuple[str, ...]
    account_id: str | None = None
    account_name: str | None = None
    account_email: str | None = None
    project_id: str | None = None
    environment_id: str | None = None
    # Projects a workspace token could list while being validated (ids only).
    project_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GitHubTokenInfo:
    username: str
    user_id: int
    scopes: tuple[str, ...]
    token_type: GitHubTokenType
    expires_at: datetime | None
    public_repos: int
    total_private_repos: int | None
    # Repositories the token can reach (owned, collaborator, organisation member), or None if
    # GitHub would not say.
    repository_count: int | None = None


@dataclass(frozen=True, slots=True)
class RegistryLoginResult:
    valid: bool
    detail: str
    # How the registry wanted us to log in: "none" (anonymous), "basic", "bearer"; None if unknown.
    scheme: str | None = None


# --------------------------------------------------------------------------------------------
# Pure helpers

_GITHUB_PREFIXES: tuple[tuple[str, GitHubTokenType], ...] = (
    ("github_pat_", "fine_grained"),
    ("ghp_", "classic"),
    ("gho_", "oauth"),
    ("ghu_", "user_to_server"),
    ("ghs_", "server_to_server"),
    ("ghr_", "refresh"),
)


def github_token_type(token: SecretValue) -> GitHubTokenType:
    """The token type GitHub encodes in the prefix; "unknown" for anything else (e.g. old 40-hex)."""
    plain = token.reveal()
    for prefix, kind in _GITHUB_PREFIXES:
        if plain.startswith(prefix):
            return kind
    return "unknown"


# Docker Hub answers to several names; `docker login` stores it under the v1 index URL.
DOCKER_HUB = "docker.io"  # the one name every Docker Hub alias is stored under
DOCKER_HUB_ALIASES = frozenset({DOCKER_HUB, "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"

_REGISTRY_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"(?::[0-9]{1,5})?$"
)


# The key `docker/{host[:port]}` must fit the metadata index's 255-character key column.
MAX_REGISTRY_LENGTH = 255 - len("docker/")


def normalize_registry(registry: str) -> str:
    """The registry's `host[:port]`, lower-cased, from what a user typed.

    Accepts `ghcr.io`, `https://ghcr.io/`, `https://index.docker.io/v1/`; Docker Hub aliases
    all become `docker.io`. Raises `InvalidInput` for anything that isn't a host name.
    """
    text = registry.strip()
    for scheme in ("https://", "http://"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
            break
    host, _, path = text.partition("/")
    host = host.lower()
    # Only an API version may follow the host (`https://index.docker.io/v1/`): a registry name
    # ends up in a Vault path, so repository paths and anything like `..` are refused.
    if path.strip("/") not in ("", "v1", "v2"):
        raise InvalidInput("registry must be a host name, optionally with a port", field="registry")
    if not host or len(host) > MAX_REGISTRY_LENGTH or not _REGISTRY_HOST.fullmatch(host):
        raise InvalidInput("registry must be a host name, optionally with a port", field="registry")
    return DOCKER_HUB if host in DOCKER_HUB_ALIASES else host


def docker_config_key(registry: str) -> str:
    """The key `docker login` writes in `~/.docker/config.json` `auths` for this registry."""
    host = normalize_registry(registry)
    return DOCKER_HUB_CONFIG_KEY if host == DOCKER_HUB else host


def docker_config_auth_entry(registry: str, username: str, password: SecretValue) -> dict[str, Any]:
    """`{"auths": {key: {"auth": base64(user:password)}}}`. Holds the plaintext: owner only."""
    pair = f"{username}:{password.reveal()}".encode()
    return {"auths": {docker_config_key(registry): {"auth": base64.b64encode(pair).decode("ascii")}}}


def railway_registry_credentials(username: str, password: SecretValue) -> dict[str, str]:
    """Railway's `registryCredentials` pair. Holds the plaintext: owner only."""
    return {"username": username, "password": password.reveal()}
