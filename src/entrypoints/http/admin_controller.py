"""`/api/v1/admin`: admins see any user's secret metadata and revoke secrets; never values."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get
from litestar.di import NamedDependency
from litestar.params import PathParameter

from domain.values import Principal
from entrypoints.http import documented as rules
from entrypoints.http import schemas
from entrypoints.http.responses import PROBLEM_RESPONSES
from entrypoints.http.secrets_controller import Key, summaries
from services.secret_service import SecretService

Caller = NamedDependency[Principal]
Secrets = NamedDependency[SecretService]
UserId = Annotated[str, PathParameter(description="the user whose secrets to manage", schema_extra=rules.USER_ID)]


class AdminSecretsController(Controller):
    path = "/api/v1/admin/users/{user_id:str}/secrets"
    tags = ["admin"]

    @get("/", summary="A user's secrets: metadata only", responses=PROBLEM_RESPONSES)
    async def list_user_secrets(
        self, user_id: UserId, principal: Caller, secret_service: Secrets
    ) -> schemas.SecretList:
        return summaries(await secret_service.list_for_owner(principal, user_id))

    @delete("/{key:str}", status_code=200, summary="Revoke (soft-delete) a user's secret", responses=PROBLEM_RESPONSES)
    async def revoke(
        self, user_id: UserId, key: Key, principal: Caller, secret_service: Secrets
    ) -> schemas.SecretDeleted:
        kept = await secret_service.revoke(principal, user_id, key)
        return schemas.SecretDeleted(success=True, versions_archived=kept)
