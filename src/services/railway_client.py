"""The per-user Railway client (the spec's `GetUserRailwayClient`) and environment syncs to Railway.

Every Railway call the service makes goes through `RailwayClientService.client_for`: the calling
user's token from Vault, sent the way its kind requires; the shared `RAILWAY_API_TOKEN` only when
Vault is switched off, or for a user without a token while the legacy fallback is allowed.

Auditing: each use of a user's token by the client is one `read` event of `railway` with reason
"railway client" (the shared token: no key, reason "railway client, shared RAILWAY_API_TOKEN").
A sync is one `sync` event of `env_vars/{env_id}` ("dry run" in the reason for a preview), plus
the client's `read` of the Railway token it pushed with: one event per secret the sync touched.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from domain.audit import AuditAction
from domain.credentials import TOKEN_SOURCE_ENV, TOKEN_SOURCE_VAULT, CredentialMissing, RailwayTarget
from domain.errors import InvalidInput, SecretNotFound
from domain.ports import EnvironmentRegistry, RailwayApi, RailwayClients, RailwayTokenValidator, UserAccounts
from domain.providers import RAILWAY, RailwayTokenKind, railway_token_kind
from domain.values import Principal, SecretValue, is_valid_secret_key
from services.audit_trail import AuditNote, AuditTrail
from services.environment_secrets import ENVIRONMENT_TYPE, EnvironmentSecretService, environment_key
from services.provider_common import RAILWAY_KEY, token_kinds, with_token_kind
from services.railway_tokens import RailwayPolicy
from services.secret_service import SecretService

CLIENT_REASON = "railway client"

MASK = "********"


@dataclass(frozen=True, slots=True)
class BoundRailwayClient:
    api: RailwayApi
    source: str  # TOKEN_SOURCE_VAULT or TOKEN_SOURCE_ENV
    kind: str
    version: int | None = None  # the Vault version of the token, for a Vault token


class RailwayClientService:
    def __init__(
        self,
        *,
        secrets: SecretService,
        trail: AuditTrail,
        clients: RailwayClients,
        validator: RailwayTokenValidator,
        accounts: UserAccounts,
        policy: RailwayPolicy,
    ) -> None:
        self._secrets = secrets
        self._trail = trail
        self._clients = clients
        self._validator = validator
        self._accounts = accounts
        self._policy = policy
        self._env_kind: RailwayTokenKind | None = None
        self._env_kind_lock = asyncio.Lock()

    async def client_for(self, principal: Principal) -> BoundRailwayClient:
        """A Railway client with the caller's token; the use of the token is one `read` event."""
        async with self._trail.record(principal, AuditAction.READ, key=RAILWAY_KEY) as note:
            note.reason = CLIENT_REASON
            return await self._client_for(principal, note)

    async def _client_for(self, principal: Principal, note: AuditNote) -> BoundRailwayClient:
        if self._policy.vault_enabled:
            try:
                view = await self._secrets.get(principal, RAILWAY_KEY)
            except SecretNotFound:
                pass
            else:
                note.version, note.secret_type = view.version, view.metadata.secret_type
                kind = railway_token_kind(token_kinds(view.metadata).get(str(view.version)))
                if kind is None:
                    # A version written by a rollback carries no kind yet: ask Railway once, remember it.
                    learned = (await self._validator.validate(view.value)).kind
                    version = view.version
                    await self._secrets.amend_metadata(
                        principal, RAILWAY_KEY, lambda m: with_token_kind(m, version, learned)
                    )
                    kind = learned
                return BoundRailwayClient(
                    self._clients.client_for(view.value, kind), TOKEN_SOURCE_VAULT, kind, view.version
                )
        fallback = self._policy.fallback
        note.key = None  # not a secret of the user's
        note.reason = f"{CLIENT_REASON}, shared RAILWAY_API_TOKEN"
        if fallback is None:
            raise CredentialMissing("no Railway token is configured for you", provider=RAILWAY)
        kind = await self._env_token_kind(fallback)
        await self._accounts.mark_env_fallback(principal.user_id)
        return BoundRailwayClient(self._clients.client_for(fallback, kind), TOKEN_SOURCE_ENV, kind)

    async def _env_token_kind(self, token: SecretValue) -> RailwayTokenKind:
        async with self._env_kind_lock:
            if self._env_kind is None:
                self._env_kind = (await self._validator.validate(token)).kind
            return self._env_kind


@dataclass(frozen=True, slots=True)
class VariableChange:
    key: str
    old: str | None  # masked
    new: str | None  # masked


@dataclass(frozen=True, slots=True)
class SyncPlan:
    target: RailwayTarget
    added: tuple[VariableChange, ...]
    changed: tuple[VariableChange, ...]
    removed: tuple[VariableChange, ...]  # on Railway, not here: removed only with `replace`
    unchanged: int
    replace: bool
    applied: bool
    source: str


def _validate_railway_id(value: str | None, field: str) -> None:
    if value is not None and not is_valid_secret_key(value):
        raise InvalidInput(f"{field} is not a Railway id", field=field)


class EnvironmentSyncService:
    """Pushes an environment's secrets to Railway with `variableCollectionUpsert`, after a preview."""

    def __init__(
        self,
        *,
        environment_secrets: EnvironmentSecretService,
        environments: EnvironmentRegistry,
        railway: RailwayClientService,
        trail: AuditTrail,
    ) -> None:
        self._trail = trail
        self._env_secrets = environment_secrets
        self._environments = environments
        self._railway = railway

    async def sync(
        self,
        principal: Principal,
        env_id: str,
        *,
        target: RailwayTarget | None,
        replace: bool = False,
        dry_run: bool = False,
    ) -> SyncPlan:
        async with self._trail.record(principal, AuditAction.SYNC, key=environment_key(env_id)) as note:
            note.secret_type = ENVIRONMENT_TYPE
            note.reason = "dry run" if dry_run else ("replace" if replace else None)
            return await self._sync(principal, env_id, target=target, replace=replace, dry_run=dry_run, note=note)

    async def _sync(
        self,
        principal: Principal,
        env_id: str,
        *,
        target: RailwayTarget | None,
        replace: bool,
        dry_run: bool,
        note: AuditNote,
    ) -> SyncPlan:
        ours, version = await self._env_secrets.values_unrecorded(principal, env_id)
        note.version = version or None
        if target is None:
            known = await self._environments.get(principal.user_id, env_id)
            if known is None or known.railway is None:
                raise InvalidInput(
                    "the first sync of an environment needs project_id and environment_id", field="project_id"
                )
            target = known.railway
        for value, name in (
            (target.project_id, "project_id"),
            (target.environment_id, "environment_id"),
            (target.service_id, "service_id"),
        ):
            _validate_railway_id(value, name)

        bound = await self._railway.client_for(principal)
        theirs = await bound.api.get_variables(target.project_id, target.environment_id, target.service_id)
        added = tuple(VariableChange(k, None, MASK) for k in sorted(ours) if k not in theirs)
        changed = tuple(VariableChange(k, MASK, MASK) for k in sorted(ours) if k in theirs and theirs[k] != ours[k])
        removed = tuple(VariableChange(k, MASK, None) for k in sorted(theirs) if k not in ours)
        unchanged = sum(1 for k in ours if k in theirs and theirs[k] == ours[k])
        applied = False
        if not dry_run:
            await bound.api.upsert_variables(
                target.project_id, target.environment_id, target.service_id, ours, replace=replace
            )
            await self._environments.ensure(principal.user_id, env_id)
            await self._environments.set_railway_target(principal.user_id, env_id, target)
            applied = True
        return SyncPlan(
            target=target,
            added=added,
            changed=changed,
            removed=removed,
            unchanged=unchanged,
            replace=replace,
            applied=applied,
            source=bound.source,
        )
