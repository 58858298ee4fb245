"""The secret lifecycle's background pass and the caller's expiry warnings.

The cleanup pass (`SecretCleanupService.run`), under a lock one instance at a time holds:
1. expire: a live secret past its TTL expiry is soft-deleted in Vault (the newest version's data;
   history stays, so a rollback restores it), audited as `expire` by the system actor;
2. destroy: a secret the pass expired more than the recovery window ago has every version and its
   metadata destroyed in Vault and its index row removed, audited as `destroy`;
3. warn: each of the 14/7/1-day thresholds an expiry comes within is audited once per secret as
   `expiry_warning`, and the gauge of secrets expiring within 7 days is set.
Each step claims its row in the index first (one conditional UPDATE), so even without the lock no
secret is expired, destroyed or warned about twice. Vault's own metadata has the last word on
whether a secret is still expired before anything is deleted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.audit import SYSTEM_ACTOR, AuditAction
from domain.lifecycle import (
    STATUS_WARNING_DAYS,
    ExpiryNotice,
    ExpirySource,
    days_left,
    is_expired,
    threshold_crossed,
)
from domain.ports import JobLock, SecretCache, SecretIndex, SecretLifecycleIndex, SecretVault
from domain.secrets import SecretMetadata, SecretRecord, locate
from domain.values import Principal
from services.audit_trail import AuditTrail
from services.secret_service import utc_now

log = logging.getLogger("mirage.lifecycle")

CLEANUP_LOCK = "secret-cleanup"
SYSTEM = Principal(user_id=SYSTEM_ACTOR, is_admin=True)
_BATCH = 500
_CONCURRENCY = 8
_GAUGE_WINDOW = timedelta(days=7)
_WARNING_WINDOW = timedelta(days=max(14, STATUS_WARNING_DAYS))


@dataclass(frozen=True, slots=True)
class CleanupItem:
    user_id: str
    key: str
    detail: str = ""


@dataclass
class CleanupReport:
    dry_run: bool
    skipped: bool = False  # another instance holds the lock
    expired: list[CleanupItem] = field(default_factory=list)
    destroyed: list[CleanupItem] = field(default_factory=list)
    warned: list[CleanupItem] = field(default_factory=list)
    failed: list[CleanupItem] = field(default_factory=list)
    expiring_within_7_days: int | None = None

    def lines(self) -> list[str]:
        """What a person reads: one line per secret, names only (never a value)."""
        if self.skipped:
            return ["another instance is running the cleanup pass; nothing done"]
        verb = "would " if self.dry_run else ""
        out = [f"{verb}expire {i.user_id}/{i.key} ({i.detail})" for i in self.expired]
        out += [f"{verb}destroy {i.user_id}/{i.key} ({i.detail})" for i in self.destroyed]
        out += [f"{verb}warn {i.user_id}/{i.key} ({i.detail})" for i in self.warned]
        out += [f"failed {i.user_id}/{i.key} ({i.detail})" for i in self.failed]
        out.append(
            f"{'dry run: ' if self.dry_run else ''}{len(self.expired)} expired, {len(self.destroyed)} destroyed, "
            f"{len(self.warned)} warnings, {len(self.failed)} failed"
        )
        return out


class SecretCleanupService:
    def __init__(
        self,
        *,
        vault: SecretVault,  # the service's own identity: the pass acts on every user's secrets
        index: SecretLifecycleIndex,
        cache: SecretCache,
        trail: AuditTrail,
        lock: JobLock,
        recovery: timedelta,
        clock: Callable[[], datetime] = utc_now,
        report_expiring: Callable[[int], None] | None = None,
    ) -> None:
        self._vault = vault
        self._index = index
        self._cache = cache
        self._trail = trail
        self._lock = lock
        self._recovery = recovery
        self._clock = clock
        self._report_expiring = report_expiring

    @property
    def recovery(self) -> timedelta:
        return self._recovery

    async def run(self, *, dry_run: bool = False) -> CleanupReport:
        async with self._lock.hold(CLEANUP_LOCK) as held:
            if not held:
                return CleanupReport(dry_run=dry_run, skipped=True)
            report = CleanupReport(dry_run=dry_run)
            now = self._clock()
            await self._expire(report, now)
            await self._destroy(report, now)
            await self._warn(report, now)
            report.expiring_within_7_days = await self._index.count_expiring(now, now + _GAUGE_WINDOW)
            if self._report_expiring is not None and not dry_run:
                self._report_expiring(report.expiring_within_7_days)
            return report

    async def _expire(self, report: CleanupReport, now: datetime) -> None:
        async def one(record: SecretRecord) -> None:
            item = CleanupItem(record.user_id, record.key, f"expired at {_iso(record.expires_at)}")
            if report.dry_run:
                report.expired.append(item)
            elif await self._index.claim_expired(record.user_id, record.key, now):
                try:
                    if await self._expire_one(record, now):
                        report.expired.append(item)
                except Exception as exc:  # one bad secret must not stop the pass
                    await self._index.release_expired(record.user_id, record.key)
                    report.failed.append(CleanupItem(record.user_id, record.key, f"expire: {type(exc).__name__}"))
                    log.warning("cleanup: expiring a secret failed (%s)", type(exc).__name__)

        await _each(await self._index.expired_live(now, _BATCH), one)

    async def _expire_one(self, record: SecretRecord, now: datetime) -> bool:
        locator = locate(record.user_id, record.key)
        metadata = await self._vault.read_metadata(locator.path)
        if metadata is None or not metadata.is_live:
            return True  # gone or deleted in Vault already: the index now says so too
        expiry = SecretMetadata.from_vault(metadata.custom, fallback=_blank(record)).expires_at
        if not is_expired(expiry, now):
            # Vault says otherwise (its expiry was changed or cleared): Vault wins.
            await self._index.release_expired(record.user_id, record.key)
            return False
        async with self._trail.record(
            SYSTEM, AuditAction.EXPIRE, key=record.key, subject_user_id=record.user_id
        ) as note:
            note.version, note.secret_type = metadata.current_version, record.secret_type
            note.reason = f"expired at {_iso(expiry)}; restorable by rollback for {self._recovery.days} days"
            try:
                await self._vault.soft_delete(locator.path)
            finally:
                await self._cache.invalidate(locator.path)
        return True

    async def _destroy(self, report: CleanupReport, now: datetime) -> None:
        cutoff = now - self._recovery

        async def one(record: SecretRecord) -> None:
            item = CleanupItem(record.user_id, record.key, f"expired and deleted at {_iso(record.deleted_at)}")
            if report.dry_run:
                report.destroyed.append(item)
            elif await self._index.claim_destroy(record.user_id, record.key, cutoff):
                try:
                    if await self._destroy_one(record):
                        report.destroyed.append(item)
                except Exception as exc:
                    await self._index.release_destroy(record.user_id, record.key)
                    report.failed.append(CleanupItem(record.user_id, record.key, f"destroy: {type(exc).__name__}"))
                    log.warning("cleanup: destroying a secret failed (%s)", type(exc).__name__)

        await _each(await self._index.past_recovery(cutoff, _BATCH), one)

    async def _destroy_one(self, record: SecretRecord) -> bool:
        locator = locate(record.user_id, record.key)
        metadata = await self._vault.read_metadata(locator.path)
        if metadata is not None and metadata.is_live:
            # Restored in Vault behind the index's back: never destroy a live secret.
            await self._index.release_destroy(record.user_id, record.key)
            return False
        async with self._trail.record(
            SYSTEM, AuditAction.DESTROY, key=record.key, subject_user_id=record.user_id
        ) as note:
            note.secret_type = record.secret_type
            note.version = metadata.current_version if metadata else None
            note.reason = f"recovery window of {self._recovery.days} days over"
            await self._vault.destroy(locator.path)
            await self._index.remove(record.user_id, record.key)
            await self._cache.invalidate(locator.path)
        return True

    async def _warn(self, report: CleanupReport, now: datetime) -> None:
        for record in await self._index.expiring_live(now + _WARNING_WINDOW, _BATCH):
            due = _next_expiry(record, now)
            if due is None:
                continue
            at, source = due
            threshold = threshold_crossed(at, now)
            if threshold is None:
                continue
            item = CleanupItem(record.user_id, record.key, f"{source.value} expiry within {threshold} days")
            if report.dry_run:
                report.warned.append(item)
                continue
            if not await self._index.claim_warning(record.user_id, record.key, threshold):
                continue
            async with self._trail.record(
                SYSTEM, AuditAction.EXPIRY_WARNING, key=record.key, subject_user_id=record.user_id
            ) as note:
                note.secret_type, note.version = record.secret_type, record.current_version
                note.reason = f"{source.value} expiry at {_iso(at)}: within {threshold} days"
            report.warned.append(item)


class ExpiringSecretsService:
    """The caller's secrets and provider tokens that expire or are due for rotation soon."""

    def __init__(
        self,
        *,
        index: SecretIndex,
        trail: AuditTrail,
        railway_max_age_days: int = 90,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._index = index
        self._trail = trail
        self._railway_max_age = railway_max_age_days
        self._clock = clock

    async def expiring(self, principal: Principal, within: timedelta) -> list[ExpiryNotice]:
        async with self._trail.record(principal, AuditAction.LIST) as note:
            note.reason = f"expiring within {within.days} days" if within.days else "expiring"
            records = await self._index.list(principal.user_id)
        now = self._clock()
        until = now + within
        notices = [n for r in records for n in self._notices(r, now) if n.due_at <= until]
        return sorted(notices, key=lambda n: (n.due_at, n.key))

    def _notices(self, record: SecretRecord, now: datetime) -> list[ExpiryNotice]:
        found: list[tuple[datetime, ExpirySource]] = []
        if record.expires_at is not None:
            found.append((record.expires_at, ExpirySource.TTL))
        if record.provider_expires_at is not None:
            found.append((record.provider_expires_at, ExpirySource.PROVIDER))
        rotate_every = record.rotate_every_days
        if rotate_every is None and record.key == "railway":
            rotate_every = self._railway_max_age  # RAILWAY_TOKEN_MAX_AGE_DAYS: its `needs_rotation`
        since = record.version_created_at or record.updated_at
        if rotate_every is not None:
            found.append((since + timedelta(days=rotate_every), ExpirySource.ROTATION_REMINDER))
        return [
            ExpiryNotice(
                key=record.key,
                secret_type=record.secret_type,
                due_at=at,
                source=source,
                days_left=days_left(at, now),
                expired=at <= now,
            )
            for at, source in found
        ]


async def _each(records: list[SecretRecord], work: Callable[[SecretRecord], Awaitable[None]]) -> None:
    """`work` on every record, `_CONCURRENCY` at a time: the Vault calls and audit commits of
    different secrets overlap (the audit log commits concurrent appends together)."""
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def gated(record: SecretRecord) -> None:
        async with gate:
            await work(record)

    # All finish before an error (the index unreachable, say) ends the pass: no orphaned tasks.
    outcomes = await asyncio.gather(*(gated(record) for record in records), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def _next_expiry(record: SecretRecord, now: datetime) -> tuple[datetime, ExpirySource] | None:
    candidates = [
        (at, source)
        for at, source in ((record.expires_at, ExpirySource.TTL), (record.provider_expires_at, ExpirySource.PROVIDER))
        if at is not None and at > now
    ]
    return min(candidates, key=lambda c: c[0]) if candidates else None


def _blank(record: SecretRecord) -> SecretMetadata:
    return SecretMetadata(created_by=record.user_id, created_at=record.created_at, secret_type=record.secret_type)


def _iso(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at is not None else "unknown"
