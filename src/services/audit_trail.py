"""Recording what happened to whose secret: one audit event per operation, success or failure."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from domain import errors
from domain.audit import AuditAction, AuditEvent, AuditOutcome, AuditUnavailable, trail_key
from domain.credentials import CredentialMissing
from domain.lifecycle import SecretExpired
from domain.ports import AuditLog
from domain.providers import ProviderRateLimited, ProviderRejected, ProviderUnavailable
from domain.request_context import current_request
from domain.values import Principal

log = logging.getLogger("mirage.audit")

# InvalidInput fields that name the key itself: the key was refused.
_KEY_FIELDS = frozenset({"key", "registry"})

# Most specific first.
_OUTCOMES: list[tuple[type[Exception], AuditOutcome]] = [
    (errors.NotAuthenticated, AuditOutcome.DENIED),
    (errors.Forbidden, AuditOutcome.DENIED),
    (errors.VaultRefused, AuditOutcome.DENIED),
    (errors.SecretNotFound, AuditOutcome.NOT_FOUND),
    (SecretExpired, AuditOutcome.NOT_FOUND),
    (errors.VersionNotFound, AuditOutcome.NOT_FOUND),
    (errors.VersionGone, AuditOutcome.NOT_FOUND),
    (errors.VersionConflict, AuditOutcome.CONFLICT),
    (errors.InvalidInput, AuditOutcome.INVALID),
    (errors.ValueTooLarge, AuditOutcome.INVALID),
    (errors.VaultUnavailable, AuditOutcome.UNAVAILABLE),
    (errors.StorageUnavailable, AuditOutcome.UNAVAILABLE),
    (AuditUnavailable, AuditOutcome.UNAVAILABLE),
    (ProviderRejected, AuditOutcome.INVALID),  # the provider said the credential is no good
    (ProviderRateLimited, AuditOutcome.UNAVAILABLE),
    (ProviderUnavailable, AuditOutcome.UNAVAILABLE),
    (CredentialMissing, AuditOutcome.NOT_FOUND),
]


def outcome_of(exc: BaseException) -> AuditOutcome:
    for error_type, outcome in _OUTCOMES:
        if isinstance(exc, error_type):
            return outcome
    return AuditOutcome.ERROR


@dataclass
class AuditNote:
    """Filled in by the operation while it runs: what the event should say beyond who and what."""

    version: int | None = None
    secret_type: str | None = None
    key: str | None = None
    action: AuditAction | None = None  # when the operation only knows at the end (create or update)
    # An operation that ends normally but did not succeed (a provider said the credential is bad).
    outcome: AuditOutcome | None = None
    reason: str | None = None  # never a value: names, counts, formats, "dry run", ...


class AuditTrail:
    def __init__(self, log: AuditLog) -> None:
        self._log = log

    @asynccontextmanager
    async def record(
        self,
        principal: Principal,
        action: AuditAction,
        *,
        key: str | None = None,
        subject_user_id: str | None = None,
    ) -> AsyncIterator[AuditNote]:
        """Append one event when the block ends.

        On success the append must commit before the caller goes on, so a value is only ever
        returned once its read is on record: if the trail can't be written, the operation fails
        (fail closed, as Vault does with its audit devices). A failed operation is recorded too,
        but a trail outage then does not hide the original error.
        """
        note = AuditNote(key=key)
        try:
            yield note
        except BaseException as exc:
            # A refused key is never recorded as if it were one (see `trail_key`).
            refused = isinstance(exc, errors.InvalidInput) and exc.field in _KEY_FIELDS
            reason = _reason(exc) if note.reason is None else f"{note.reason}; {_reason(exc)}"
            event = self._event(principal, action, note, subject_user_id, outcome_of(exc), reason, refused=refused)
            await self._append_quietly(event)
            raise
        outcome = note.outcome or AuditOutcome.SUCCESS
        await self._log.append(self._event(principal, action, note, subject_user_id, outcome, note.reason))

    async def last_access(self, user_id: str, keys: list[str]) -> dict[str, datetime]:
        return await self._log.last_access(user_id, keys)

    async def failed_authentication(self, reason: str) -> None:
        anonymous = Principal("anonymous")
        note = AuditNote()
        await self._append_quietly(
            self._event(anonymous, AuditAction.AUTH_FAILED, note, "anonymous", AuditOutcome.DENIED, reason)
        )

    def _event(
        self,
        principal: Principal,
        action: AuditAction,
        note: AuditNote,
        subject_user_id: str | None,
        outcome: AuditOutcome,
        reason: str | None,
        *,
        refused: bool = False,
    ) -> AuditEvent:
        context = current_request.get()
        action = note.action or action
        return AuditEvent(
            actor_id=principal.user_id,
            actor_is_admin=principal.is_admin,
            subject_user_id=subject_user_id or principal.user_id,
            secret_key=trail_key(note.key, refused=refused),
            secret_type=note.secret_type,
            action=action,
            outcome=outcome,
            reason=reason,
            version=note.version,
            client_ip=context.client_ip,
            user_agent=context.user_agent,
            request_id=context.request_id,
            trace_id=context.trace_id,
        )

    async def _append_quietly(self, event: AuditEvent) -> None:
        try:
            await self._log.append(event)
        except AuditUnavailable:
            log.error("audit trail unavailable: an event for a failed %s was not recorded", event.action)


def _reason(exc: BaseException) -> str:
    # Domain messages are written never to carry values; anything else is named by type only.
    if isinstance(exc, errors.DomainError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__
