"""Railway's GraphQL API over httpx: token validation and the per-user client.

Railway answers a bad token with HTTP 200 and a GraphQL `errors` list (sometimes with a 401), so
the body decides, not the status. Tokens are UUIDs whatever their kind: validation tries the
account form (`me`), then the workspace form (`projects`, same Bearer header), then the project
form (`projectToken` with the `Project-Access-Token` header).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from adapters.providers.http import raise_if_unavailable, scrub, send
from domain.providers import (
    RAILWAY,
    RAILWAY_PERMISSIONS,
    ProviderRejected,
    ProviderUnavailable,
    RailwayTokenInfo,
    RailwayTokenKind,
)
from domain.values import SecretValue

log = logging.getLogger(__name__)

DEFAULT_RAILWAY_API_URL = "https://backboard.railway.com/graphql/v2"

ME_QUERY = "query { me { id name email } }"
PROJECTS_QUERY = "query { projects { edges { node { id name } } } }"
PROJECT_TOKEN_QUERY = "query { projectToken { projectId environmentId } }"
UPSERT_MUTATION = "mutation($input: VariableCollectionUpsertInput!) { variableCollectionUpsert(input: $input) }"
VARIABLES_QUERY = (
    "query($projectId: String!, $environmentId: String!, $serviceId: String) "
    "{ variables(projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId) }"
)


class _GraphQLRefused(Exception):
    """Railway answered, with GraphQL errors or a 4xx: the message is what it said (token-free)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RailwayGraphQLClient:
    """Railway's GraphQL API bound to one token. Implements `domain.ports.RailwayApi`.

    `kind` says how the token is sent: account and workspace tokens as `Authorization: Bearer`,
    project tokens as `Project-Access-Token`. `validate()` finds the kind out.
    """

    def __init__(
        self,
        endpoint: str,
        token: SecretValue,
        *,
        http: httpx.AsyncClient,
        kind: RailwayTokenKind = "account",
    ) -> None:
        if not isinstance(token, SecretValue):
            raise TypeError("token must be a SecretValue")
        self._endpoint = endpoint
        self._token = token
        self._http = http
        self.kind: RailwayTokenKind = kind

    def __repr__(self) -> str:
        return f"RailwayGraphQLClient(endpoint={self._endpoint!r}, kind={self.kind!r})"

    # -- validation -------------------------------------------------------------------------

    async def validate(self) -> RailwayTokenInfo:
        """Which kind of token this is and what it can do; sets `self.kind` on success."""
        try:
            data = await self._execute(ME_QUERY, as_project=False)
        except _GraphQLRefused as account_refusal:
            first = account_refusal
        else:
            me = data.get("me") if isinstance(data, dict) else None
            if isinstance(me, dict) and me.get("id"):
                self.kind = "account"
                log.info("railway token validated", extra={"railway_token_kind": "account"})
                return RailwayTokenInfo(
                    kind="account",
                    permissions=RAILWAY_PERMISSIONS["account"],
                    account_id=_str_or_none(me.get("id")),
                    account_name=_str_or_none(me.get("name")),
                    account_email=_str_or_none(me.get("email")),
                )
            first = _GraphQLRefused("no account behind the token", 200)

        try:
            data = await self._execute(PROJECTS_QUERY, as_project=False)
        except _GraphQLRefused:
            pass
        else:
            projects = data.get("projects") if isinstance(data, dict) else None
            if isinstance(projects, dict):
                self.kind = "workspace"
                log.info("railway token validated", extra={"railway_token_kind": "workspace"})
                return RailwayTokenInfo(
                    kind="workspace",
                    permissions=RAILWAY_PERMISSIONS["workspace"],
                    project_ids=_project_ids(projects),
                )

        try:
            data = await self._execute(PROJECT_TOKEN_QUERY, as_project=True)
        except _GraphQLRefused as project_refusal:
            second: _GraphQLRefused | None = project_refusal
        else:
            scope = data.get("projectToken") if isinstance(data, dict) else None
            if isinstance(scope, dict) and scope.get("projectId"):
                self.kind = "project"
                log.info("railway token validated", extra={"railway_token_kind": "project"})
                return RailwayTokenInfo(
                    kind="project",
                    permissions=RAILWAY_PERMISSIONS["project"],
                    project_id=_str_or_none(scope.get("projectId")),
                    environment_id=_str_or_none(scope.get("environmentId")),
                )
            second = None

        message = f"Railway answered: {first.message}"
        if second is not None and second.message != first.message:
            message = f"{message}; as a project token: {second.message}"
        log.info("railway token rejected", extra={"railway_status": first.status})
        raise ProviderRejected(RAILWAY, message)

    # -- RailwayApi -------------------------------------------------------------------------

    async def upsert_variables(
        self,
        project_id: str,
        environment_id: str,
        service_id: str | None,
        variables: Mapping[str, SecretValue],
        replace: bool = False,
    ) -> None:
        payload: dict[str, Any] = {
            "projectId": project_id,
            "environmentId": environment_id,
            "variables": {name: value.reveal() for name, value in variables.items()},
        }
        if service_id is not None:
            payload["serviceId"] = service_id
        if replace:
            payload["replace"] = True
        data = await self._call(UPSERT_MUTATION, {"input": payload})
        if not isinstance(data, dict) or data.get("variableCollectionUpsert") is not True:
            raise ProviderRejected(RAILWAY, "Railway answered: variableCollectionUpsert did not succeed")
        log.info(
            "railway variables upserted",
            extra={"railway_project_id": project_id, "railway_variable_count": len(variables)},
        )

    async def get_variables(
        self, project_id: str, environment_id: str, service_id: str | None
    ) -> dict[str, SecretValue]:
        data = await self._call(
            VARIABLES_QUERY,
            {"projectId": project_id, "environmentId": environment_id, "serviceId": service_id},
        )
        found = data.get("variables") if isinstance(data, dict) else None
        if not isinstance(found, dict):
            raise ProviderRejected(RAILWAY, "Railway answered: no variables in the response")
        return {str(name): SecretValue(str(value)) for name, value in found.items()}

    # -- wire ------------------------------------------------------------------------------

    async def _call(self, query: str, variables: Mapping[str, Any]) -> Any:
        try:
            return await self._execute(query, as_project=self.kind == "project", variables=variables)
        except _GraphQLRefused as refusal:
            raise ProviderRejected(RAILWAY, f"Railway answered: {refusal.message}") from None

    async def _execute(self, query: str, *, as_project: bool, variables: Mapping[str, Any] | None = None) -> Any:
        headers = {"Accept": "application/json"}
        if as_project:
            headers["Project-Access-Token"] = self._token.reveal()
        else:
            headers["Authorization"] = f"Bearer {self._token.reveal()}"
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = dict(variables)
        response = await send(self._http, RAILWAY, "POST", self._endpoint, json=body, headers=headers)
        status = response.status_code
        raise_if_unavailable(RAILWAY, response)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            if 400 <= status < 500:
                raise _GraphQLRefused(self._scrub(f"HTTP {status}"), status)
            raise ProviderUnavailable(RAILWAY, reason=f"unexpected answer (HTTP {status}, not GraphQL JSON)")
        errors = payload.get("errors")
        if errors:
            raise _GraphQLRefused(self._scrub(_first_message(errors) or f"HTTP {status}"), status)
        if 400 <= status < 500 or payload.get("data") is None:
            raise _GraphQLRefused(f"no data (HTTP {status})", status)
        return payload["data"]

    def _scrub(self, message: str) -> str:
        return scrub(message, self._token)


class RailwayGraphQLTokenValidator:
    """Implements `domain.ports.RailwayTokenValidator` with one shared httpx client."""

    def __init__(self, endpoint: str, http: httpx.AsyncClient) -> None:
        self._endpoint = endpoint
        self._http = http

    async def validate(self, token: SecretValue) -> RailwayTokenInfo:
        return await RailwayGraphQLClient(self._endpoint, token, http=self._http).validate()

    def client_for(self, token: SecretValue, kind: RailwayTokenKind) -> RailwayGraphQLClient:
        """A per-user client for a token whose kind is already known (from its validation)."""
        return RailwayGraphQLClient(self._endpoint, token, http=self._http, kind=kind)


def _first_message(errors: Any) -> str | None:
    if isinstance(errors, list):
        for error in errors:
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                return error["message"]
    return None


def _project_ids(projects: Mapping[str, Any]) -> tuple[str, ...]:
    edges = projects.get("edges")
    if not isinstance(edges, list):
        return ()
    ids = []
    for edge in edges:
        node = edge.get("node") if isinstance(edge, dict) else None
        if isinstance(node, dict) and node.get("id"):
            ids.append(str(node["id"]))
    return tuple(ids)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
