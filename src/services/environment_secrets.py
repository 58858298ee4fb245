"""Per-environment variables: one Vault entry per environment at `users/{id}/env_vars/{env_id}`.

The whole environment is one KV entry holding `{KEY: value}`, so a bulk import is a single
check-and-set write: it lands whole or not at all. Single-key changes are read-modify-write with
check-and-set, retried on conflict, so concurrent writes to different keys never lose an update.

Auditing: every public operation records exactly one event. The secret is named
`env_vars/{env_id}/{KEY}` for an operation on one variable (set → create/update, get → read,
delete → delete) and `env_vars/{env_id}` for one on the whole environment (keys → list, bulk →
bulk_import with the variable names in the reason, values → export). Names only, never a value.
`values_unrecorded` is for a caller that records the operation itself (the Railway sync).

Expiry: a variable may carry a TTL. The expiries travel inside the entry itself, under the reserved
field `__mirage_expires_at` (a JSON map of name to time), so they change in the same check-and-set
write as the values. An expired variable is never served: a read of it is 410, and the bulk reads
(values, names, the Railway sync) leave it out and name it as expired.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from domain.audit import AuditAction
from domain.check_and_set import retry_on_conflict
from domain.credentials import (
    parse_dotenv,
    validate_env_var_name,
    validate_env_var_value,
    validate_env_vars,
)
from domain.errors import InvalidInput, SecretNotFound
from domain.lifecycle import SecretExpired, expiry_from, is_expired
from domain.ports import EnvironmentRegistry, SecretVault, UserDirectory, VaultSessions
from domain.secrets import SecretMetadata, environment_path, parse_time
from domain.values import Principal, SecretValue
from services.audit_trail import AuditNote, AuditTrail
from services.secret_service import utc_now

ENVIRONMENT_TYPE = "environment_variables"
# Generous: each attempt is one metadata read, one data read and one write; losers retry at once.
_MAX_ATTEMPTS = 50
_MAX_NAMES_IN_REASON = 20
EXPIRY_FIELD = "__mirage_expires_at"  # inside the entry; names starting "__mirage" are refused
_RESERVED_PREFIX = "__mirage"
VALUE_PURPOSES = ("run", "export")  # what a bulk read says it is for (`mirage-secrets run`, `env export`)


def environment_key(env_id: str, variable: str | None = None) -> str:
    """How the audit trail names an environment (`env_vars/{env_id}`) or one of its variables."""
    return f"env_vars/{env_id}" if variable is None else f"env_vars/{env_id}/{variable}"


def join_reason(first: str | None, second: str) -> str:
    return f"{first}; {second}" if first else second


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
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EnvWrite:
    stored: int
    version: int


@dataclass(frozen=True, slots=True)
class EnvValues:
    variables: dict[str, SecretValue]  # the live ones only
    version: int
    expired: tuple[str, ...] = ()
    expires_at: Mapping[str, datetime] = field(default_factory=dict)


def _split(raw: Mapping[str, SecretValue]) -> tuple[dict[str, SecretValue], dict[str, datetime]]:
    """(variables, their expiries) from an entry as stored."""
    variables = {k: v for k, v in raw.items() if k != EXPIRY_FIELD}
    expiries: dict[str, datetime] = {}
    encoded = raw.get(EXPIRY_FIELD)
    if encoded is not None:
        try:
            decoded = json.loads(encoded.reveal())
        except ValueError:
            decoded = {}
        for name, at in decoded.items() if isinstance(decoded, dict) else ():
            parsed = parse_time(at) if isinstance(at, str) else None
            if parsed is not None and name in variables:
                expiries[name] = parsed
    return variables, expiries


def _join(variables: Mapping[str, SecretValue], expiries: Mapping[str, datetime]) -> dict[str, SecretValue]:
    kept = {k: at.isoformat() for k, at in sorted(expiries.items()) if k in variables}
    if not kept:
        return dict(variables)
    return {**variables, EXPIRY_FIELD: SecretValue(json.dumps(kept, separators=(",", ":")))}


def _refuse_reserved(names: Iterable[str]) -> None:
    for name in names:
        if name.lower().startswith(_RESERVED_PREFIX):
            raise InvalidInput(f"names starting with {_RESERVED_PREFIX!r} are reserved", field="key")


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

    async def set(
        self,
        principal: Principal,
        env_id: str,
        key: str,
        value: SecretValue,
        *,
        ttl: int | str | None = None,
        expires_at: datetime | None = None,
    ) -> EnvWrite:
        """Set one variable; with `ttl`/`expires_at` it expires then (a new value without either
        keeps a pending expiry and drops one that has passed)."""
        async with self._trail.record(principal, AuditAction.UPDATE, key=environment_key(env_id, key)) as note:
            note.secret_type = ENVIRONMENT_TYPE
            validate_env_var_name(key)
            _refuse_reserved([key])
            validate_env_var_value(key, value)
            expiry = expiry_from(ttl=ttl, expires_at=expires_at, now=self._clock())

            def with_it(current: dict[str, SecretValue]) -> dict[str, SecretValue]:
                note.action = AuditAction.UPDATE if key in current else AuditAction.CREATE
                return {**current, key: value}

            return await self._change(principal, env_id, with_it, stored=1, note=note, expiries={key: expiry})

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
        _refuse_reserved(checked)
        names = _names(sorted(checked))
        note.reason = f"{note.reason}, {names}" if note.reason else names
        return await self._change(
            principal,
            env_id,
            lambda current: {**current, **checked},
            stored=len(checked),
            note=note,
            expiries=dict.fromkeys(checked),
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
        expiries: Mapping[str, datetime | None] | None = None,
    ) -> EnvWrite:
        """`expiries`: for the variables written, the new expiry (None: keep one still pending)."""
        path = environment_path(principal.user_id, env_id)
        vault = await self._vaults.for_principal(principal)

        async def apply_on_top() -> EnvWrite:
            # Someone else's write since our read conflicts: the retry applies our change on top of theirs.
            raw, version = await self._read(vault, path)
            current, expiry_of = _split(raw)
            updated = validate_env_vars(change(dict(current)))
            now = self._clock()
            for name, at in (expiries or {}).items():
                if at is not None:
                    expiry_of[name] = at
                elif is_expired(expiry_of.get(name), now):
                    del expiry_of[name]
            written = await vault.write(path, _join(updated, expiry_of), cas=version)
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

    async def values(self, principal: Principal, env_id: str, *, purpose: str | None = None) -> EnvValues:
        """Every variable with its value (and the environment's version): ONE `export` event for
        the whole environment, whatever the number of variables; `purpose` (run, export) goes in
        its reason."""
        async with self._trail.record(principal, AuditAction.EXPORT, key=environment_key(env_id)) as note:
            note.secret_type = ENVIRONMENT_TYPE
            if purpose is not None and purpose not in VALUE_PURPOSES:
                raise InvalidInput(f"purpose is one of {', '.join(VALUE_PURPOSES)}", field="purpose")
            note.reason = f"purpose {purpose}" if purpose else None
            found = await self._values(principal, env_id)
            note.version = found.version or None
            if found.expired:
                note.reason = join_reason(note.reason, f"expired, left out: {_names(list(found.expired))}")
        return found

    async def values_unrecorded(self, principal: Principal, env_id: str) -> tuple[dict[str, SecretValue], int]:
        """The live variables and the environment's version, without an event (the caller records
        its own: the Railway sync, which so never pushes an expired variable)."""
        found = await self._values(principal, env_id)
        return found.variables, found.version

    async def _values(self, principal: Principal, env_id: str) -> EnvValues:
        path = environment_path(principal.user_id, env_id)
        vault = await self._vaults.for_principal(principal)
        raw, version = await self._read(vault, path)
        variables, expiries = _split(raw)
        now = self._clock()
        expired = tuple(sorted(k for k, at in expiries.items() if is_expired(at, now)))
        live = {k: v for k, v in variables.items() if k not in expired}
        pending = {k: at for k, at in expiries.items() if k in live}
        return EnvValues(variables=live, version=version, expired=expired, expires_at=pending)

    async def keys(self, principal: Principal, env_id: str) -> list[str]:
        """The live variables' names."""
        return sorted((await self.listing(principal, env_id)).variables)

    async def listing(self, principal: Principal, env_id: str) -> EnvValues:
        """For a names-only listing (recorded as `list`): the caller hands out the names of
        `variables`, never their values; the expired ones apart, the pending expiries."""
        async with self._trail.record(principal, AuditAction.LIST, key=environment_key(env_id)) as note:
            note.secret_type = ENVIRONMENT_TYPE
            found = await self._values(principal, env_id)
            note.version = found.version or None
        return found

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
            variables, expiries = _split(entry.data)
            if key not in variables:
                raise SecretNotFound(f"no variable {key} in this environment")
            if is_expired(expiries.get(key), self._clock()):
                raise SecretExpired(f"the variable {key} has expired; its value is no longer served")
        return EnvVarView(
            key=key,
            value=variables[key],
            version=entry.version,
            created_at=entry.created_at,
            expires_at=expiries.get(key),
        )
