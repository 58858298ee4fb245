"""Per-environment variables: one Vault entry per environment at `users/{id}/env_vars/{env_id}`.

The whole environment is one KV entry holding `{KEY: value}`, so a bulk import is a single
check-and-set write: it lands whole or not at all. Single-key changes are read-modify-write with
check-and-set, retried on conflict, so concurrent writes to different keys never lose an update.

Auditing: every public operation records exactly one event. The secret is named
`env_vars/{env_id}/{KEY}` for an operation on one variable (set → create/update, get → read,
delete → delete) and `env_vars/{env_id}` for one on the whole environment (keys → list, bulk →
bulk_import with the variable names in the reason, values → export). Names only, never a value.
`values_unrecorded` is for a caller that records the operation itself (the Railway sync).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from domain.audit import AuditAction
from domain.check_and_set import retry_on_conflict
from domain.credentials import parse_dotenv, validate_env_var_name, validate_env_var_value, validate_env_vars
from domain.errors import InvalidInput, SecretNotFound
from domain.ports import EnvironmentRegistry, SecretVault, UserDirectory, VaultSessions
from domain.secrets import SecretMetadata, environment_path
from domain.values import Principal, SecretValue
from services.audit_trail import AuditNote, AuditTrail
from services.secret_service import utc_now

ENVIRONMENT_TYPE = "environment_variables"
# Generous: each attempt is one metadata read, one data read and one write; losers retry at once.
_MAX_ATTEMPTS = 50
_MAX_NAMES_IN_REASON = 20


def environment_key(env_id: str, variable: str | None = None) -> str:
    """How the audit trail names an environment (`env_vars/{env_id}`) or one of its variables."""
    return f"env_vars/{env_id}" if variable is None else f"env_vars/{env_id}/{variable}"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_NAMES_IN_REASON])
    more = len(names) - _MAX_NAMES_IN_REASON
    return f"{len(names)} variables: {shown}" + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True, slots=True)
class EnvVarView:
    key: str
    value: SecretValue
    version: int
    created_at: datetime  # when the environment version holding this value was written


@dataclass(frozen=True, slots=True)
class EnvWrite:
    stored: int
    version: int


class EnvironmentSecretService:
    def __init__(
        self,
        *,
        vaults: VaultSessions,
        environments: EnvironmentRegistry,
        users: UserDirectory,
        trail: AuditTrail,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._trail = trail
        self._vaults = vaults
        self._environments = environments
        self._users = users
        self._clock = clock

    # -- writes -------------------------------------------------------------------------------

    async def set(self, principal: Principal, env_id: str, key: str, value: SecretValue) -> EnvWrite:
        async with self._trail.record(principal, AuditAction.UPDATE, key=environment_key(env_id, key)) as note:
            note.secret_type = ENVIRONMENT_TYPE
            validate_env_var_name(key)
            validate_env_var_value(key, value)

            def with_it(current: dict[str, SecretValue]) -> dict[str, SecretValue]:
                note.action = AuditAction.UPDATE if key in current else AuditAction.CREATE
                return {**current, key: value}

            return await self._change(principal, env_id, with_it, stored=1, note=note)

    async def bulk(self, principal: Principal, env_id: str, variables: Mapping[str, SecretValue]) -> EnvWrite:
        """All of them in one write, or none: any bad name or value refuses the whole request."""
        async with self._trail.record(principal, AuditAction.BULK_IMPORT, key=environment_key(env_id)) as note:
            return await self._bulk(principal, env_id, variables, note)

    async def bulk_dotenv(self, principal: Principal, env_id: str, text: str) -> EnvWrite:
        async with self._trail.record(principal, AuditAction.BULK_IMPORT, key=environment_key(env_id)) as note:
            note.reason = "dotenv"
            return await self._bulk(principal, env_id, parse_dotenv(text), note)

    async def _bulk(
        self, principal: Principal, env_id: str, variables: Mapping[str, SecretValue], note: AuditNote
    ) -> EnvWrite:
        note.secret_type = ENVIRONMENT_TYPE
        if not variables:
            raise InvalidInput("no variables given", field="secrets")
        checked = validate_env_vars(variables)
        names = _names(sorted(checked))
        note.reason = f"{note.reason}, {names}" if note.reason else names
        return await self._change(
            principal, env_id, lambda current: {**current, **checked}, stored=len(checked), note=note
        )

    async def delete(self, principal: Principal, env_id: str, key: str) -> EnvWrite:
        async with self._trail.record(principal, AuditAction.DELETE, key=environment_key(env_id, key)) as note:
            note.secret_type = ENVIRONMENT_TYPE
            validate_env_var_name(key)

            def without(current: dict[str, SecretValue]) -> dict[str, SecretValue]:
                if key not in current:
                    raise SecretNotFound(f"no variable {key} in this environment")
                return {k: v for k, v in current.items() if k != key}

            return await self._change(principal, env_id, without, stored=0, note=note)

    async def _change(
        self,
        principal: Principal,
        env_id: str,
        change: Callable[[dict[str, SecretValue]], dict[str, SecretValue]],
        *,
        stored: int,
        note: AuditNote,
    ) -> EnvWrite:
        path = environment_path(principal.user_id, env_id)
        vault = await self._vaults.for_principal(principal)

        async def apply_on_top() -> EnvWrite:
            # Someone else's write since our read conflicts: the retry applies our change on top of theirs.
            current, version = await self._read(vault, path)
            written = await vault.write(path, validate_env_vars(change(dict(current))), cas=version)
            if version == 0:
                await self._first_write(principal, env_id, vault, path)
            note.version = written.version
            return EnvWrite(stored=stored, version=written.version)

        return await retry_on_conflict(
            apply_on_top, attempts=_MAX_ATTEMPTS, exhausted="the environment is changing too fast; retry"
        )

    async def _first_write(self, principal: Principal, env_id: str, vault: SecretVault, path: str) -> None:
        await self._users.ensure(principal.user_id)
        await self._environments.ensure(principal.user_id, env_id)
        metadata = SecretMetadata(created_by=principal.user_id, created_at=self._clock(), secret_type=ENVIRONMENT_TYPE)
        await vault.set_custom_metadata(path, metadata.to_vault())

    async def _read(self, vault: SecretVault, path: str) -> tuple[dict[str, SecretValue], int]:
        """The live variables and the version to check-and-set against (0: nothing there yet)."""
        metadata = await vault.read_metadata(path)
        if metadata is None or metadata.current_version == 0:
            return {}, 0
        if not metadata.is_live:
            return {}, metadata.current_version
        entry = await vault.read(path, version=metadata.current_version)
        return dict(entry.data), metadata.current_version

    # -- reads --------------------------------------------------------------------------------

    async def values(self, principal: Principal, env_id: str) -> dict[str, SecretValue]:
        """Every variable with its value: recorded as an `export` of the environment."""
        async with self._trail.record(principal, AuditAction.EXPORT, key=environment_key(env_id)) as note:
            note.secret_type = ENVIRONMENT_TYPE
            current, version = await self._values(principal, env_id)
            note.version = version or None
        return current

    async def values_unrecorded(self, principal: Principal, env_id: str) -> tuple[dict[str, SecretValue], int]:
        """`values` (and the environment's version) without an event: the caller records its own."""
        return await self._values(principal, env_id)

    async def _values(self, principal: Principal, env_id: str) -> tuple[dict[str, SecretValue], int]:
        path = environment_path(principal.user_id, env_id)
        vault = await self._vaults.for_principal(principal)
        return await self._read(vault, path)

    async def keys(self, principal: Principal, env_id: str) -> list[str]:
        async with self._trail.record(principal, AuditAction.LIST, key=environment_key(env_id)) as note:
            note.secret_type = ENVIRONMENT_TYPE
            current, version = await self._values(principal, env_id)
            note.version = version or None
        return sorted(current)

    async def get(self, principal: Principal, env_id: str, key: str) -> EnvVarView:
        async with self._trail.record(principal, AuditAction.READ, key=environment_key(env_id, key)) as note:
            note.secret_type = ENVIRONMENT_TYPE
            validate_env_var_name(key)
            path = environment_path(principal.user_id, env_id)
            vault = await self._vaults.for_principal(principal)
            try:
                entry = await vault.read(path)
            except SecretNotFound:
                raise SecretNotFound(f"no variable {key} in this environment") from None
            note.version = entry.version
            if key not in entry.data:
                raise SecretNotFound(f"no variable {key} in this environment")
        return EnvVarView(key=key, value=entry.data[key], version=entry.version, created_at=entry.created_at)
