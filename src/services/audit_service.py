"""The audit trail for its readers: users see events about their own secrets, admins anyone's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import cast

from domain.audit import AuditAction, AuditOutcome, AuditPage, AuditQuery, ChainVerification, StoredAuditEvent
from domain.authorization import AdminAbility, authorize, may_act_on
from domain.errors import InvalidInput
from domain.ports import AuditLog
from domain.values import Principal, is_valid_user_id
from services.audit_trail import AuditTrail

DEFAULT_RETENTION_DAYS = 30
_EXPORT_PAGE = 500


class AuditService:
    def __init__(self, *, log: AuditLog, trail: AuditTrail, retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        self._log = log
        self._trail = trail
        self._retention = timedelta(days=retention_days)

    def _subject(self, principal: Principal, user_id: str | None) -> str:
        if user_id is None or may_act_on(principal, user_id):
            return principal.user_id
        authorize(principal, AdminAbility.READ_USER_AUDIT_TRAIL)
        if not is_valid_user_id(user_id):
            raise InvalidInput("user_id is not a valid user id", field="user_id")
        return user_id

    async def query(
        self,
        principal: Principal,
        *,
        user_id: str | None = None,
        secret_key: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> AuditPage:
        claimed = user_id if user_id and is_valid_user_id(user_id) else principal.user_id
        async with self._trail.record(principal, AuditAction.AUDIT_READ, key=secret_key, subject_user_id=claimed):
            subject = self._subject(principal, user_id)
            query = AuditQuery(
                subject_user_id=subject,
                secret_key=secret_key,
                # AuditQuery parses the strings (an unknown one is InvalidInput), so the cast is its job.
                action=cast(AuditAction | None, action),
                outcome=cast(AuditOutcome | None, outcome),
                start=start,
                end=end,
                limit=limit,
                cursor=cursor,
            )
            page = await self._log.query(query)
        return page

    async def export(
        self,
        principal: Principal,
        *,
        user_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> AsyncIterator[StoredAuditEvent]:
        """Every event of the range, newest first, a page at a time (nothing held in memory whole)."""
        subject = self._subject(principal, user_id)
        async with self._trail.record(principal, AuditAction.AUDIT_EXPORT, subject_user_id=subject):
            first = await self._log.query(AuditQuery(subject_user_id=subject, start=start, end=end, limit=_EXPORT_PAGE))

        async def pages() -> AsyncIterator[StoredAuditEvent]:
            page = first
            while True:
                for event in page.events:
                    yield event
                if page.next_cursor is None:
                    return
                page = await self._log.query(
                    AuditQuery(
                        subject_user_id=subject, start=start, end=end, limit=_EXPORT_PAGE, cursor=page.next_cursor
                    )
                )

        return pages()

    async def verify(self) -> ChainVerification:
        return await self._log.verify()

    async def purge_expired(self, *, now: datetime | None = None) -> int:
        """The retention job: drop events older than the retention period (itself recorded)."""
        cutoff = (now or datetime.now(UTC)) - self._retention
        return await self._log.purge_older_than(cutoff)
