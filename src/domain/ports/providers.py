"""Ports: Railway, GitHub and Docker registries, as the provider services need them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from domain.providers import GitHubTokenInfo, RailwayTokenInfo, RailwayTokenKind, RegistryLoginResult
from domain.values import SecretValue


class RailwayTokenValidator(Protocol):
    """Asks Railway what a token is: account, workspace or project token.

    Raises `ProviderRejected` when Railway refuses it in every form, `ProviderRateLimited`
    on 429 and `ProviderUnavailable` when Railway can't answer.
    """

    async def validate(self, token: SecretValue) -> RailwayTokenInfo: ...


class GitHubTokenValidator(Protocol):
    """Asks GitHub who a token belongs to (`GET /user`), with scopes, type and expiry.

    Raises `ProviderRejected`, `ProviderRateLimited` or `ProviderUnavailable`.
    """

    async def validate(self, token: SecretValue) -> GitHubTokenInfo: ...


class RegistryLoginTester(Protocol):
    """Logs in to a Docker registry the way `docker login` does; only a final 200 is valid.

    Wrong credentials are a result (`valid=False` with a detail), not an error. A registry that
    can't be reached or answers 5xx raises `ProviderUnavailable`; 429 raises `ProviderRateLimited`.
    """

    async def test(self, registry: str, username: str, password: SecretValue) -> RegistryLoginResult: ...


class RailwayApi(Protocol):
    """Railway's GraphQL API, bound to one user's token.

    Raises `ProviderRejected` (Railway said no: bad token, unknown project, ...),
    `ProviderRateLimited` or `ProviderUnavailable`.
    """

    async def upsert_variables(
        self,
        project_id: str,
        environment_id: str,
        service_id: str | None,
        variables: Mapping[str, SecretValue],
        replace: bool = False,
    ) -> None:
        """`variableCollectionUpsert`; with `replace=True` Railway drops variables not listed."""
        ...

    async def get_variables(
        self, project_id: str, environment_id: str, service_id: str | None
    ) -> dict[str, SecretValue]: ...


class RailwayClients(Protocol):
    """Builds a Railway API client bound to one token, sent the way its kind requires."""

    def client_for(self, token: SecretValue, kind: RailwayTokenKind) -> RailwayApi: ...
