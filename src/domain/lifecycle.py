"""Secret lifecycle: TTLs, expiry, rotation reminders, warning thresholds and the cleanup window.

A secret may carry an expiry (`expires_at`, set from a TTL or given directly) and a rotation
period (`rotate_every` days after its last new value). After its expiry a secret's value is never
returned (410 `secret-expired`); the cleanup pass then soft-deletes it, and once the recovery window
has passed too, destroys every version. stdlib only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from domain.errors import DomainError, InvalidInput

# Bounds of a TTL: at least a second (0 would mean "already gone"), at most ten years.
MIN_TTL = timedelta(seconds=1)
MAX_TTL = timedelta(days=3650)
MAX_ROTATE_EVERY_DAYS = 3650
MAX_WARNING_WINDOW = timedelta(days=366)
# Each is written once per secret to the audit trail, as the expiry comes within that many days.
WARNING_THRESHOLDS_DAYS = (14, 7, 1)
STATUS_WARNING_DAYS = 14  # provider status responses carry a `warning` from here on
EXPIRY_REASON = "expired"  # why the cleanup pass deleted a secret (index `deleted_reason`)
DESTROYING_REASON = "destroying"  # claimed by one cleanup pass for destruction

_MAX_DURATION_SECONDS = 100 * 365 * 86400
_DURATION = re.compile(r"^([0-9]{1,10})([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SecretExpired(DomainError):
    """The secret's expiry has passed: its value is never returned again (only a rollback restores it)."""

    title = "Secret expired"


def parse_duration(raw: int | str, *, field: str = "ttl") -> timedelta:
    """Seconds as an integer, or `90s`, `15m`, `12h`, `30d`; anything else is `InvalidInput`."""
    if isinstance(raw, bool):
        raise InvalidInput("a duration is a number of seconds or a string like 90s, 15m, 12h, 30d", field=field)
    if isinstance(raw, int):
        seconds = raw
    else:
        match = _DURATION.fullmatch(raw.strip().lower())
        if match is None:
            raise InvalidInput("a duration is a number of seconds or a string like 90s, 15m, 12h, 30d", field=field)
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0:
        raise InvalidInput("a duration can't be negative", field=field)
    if seconds > _MAX_DURATION_SECONDS:  # beyond what a timedelta holds: the caller's input, not an overflow
        raise InvalidInput("a duration is at most 3650 days", field=field)
    return timedelta(seconds=seconds)


def expiry_from(*, ttl: int | str | None, expires_at: datetime | None, now: datetime) -> datetime | None:
    """The expiry a write asks for (None: none asked). One of `ttl`/`expires_at`, bounded."""
    if ttl is not None and expires_at is not None:
        raise InvalidInput("give either ttl or expires_at, not both", field="ttl")
    if ttl is not None:
        lifetime = parse_duration(ttl)
        if not MIN_TTL <= lifetime <= MAX_TTL:
            raise InvalidInput("a ttl is between 1 second and 3650 days", field="ttl")
        return now + lifetime
    if expires_at is not None:
        if expires_at.tzinfo is None or expires_at.utcoffset() is None:
            raise InvalidInput("expires_at must carry a time zone (e.g. 2027-01-31T00:00:00Z)", field="expires_at")
        if expires_at <= now:
            raise InvalidInput("expires_at must be in the future", field="expires_at")
        if expires_at - now > MAX_TTL:
            raise InvalidInput("expires_at is at most 3650 days ahead", field="expires_at")
        return expires_at.astimezone(UTC)
    return None


def validate_rotate_every(days: int) -> int:
    if isinstance(days, bool) or not 1 <= days <= MAX_ROTATE_EVERY_DAYS:
        raise InvalidInput(
            f"rotate_every is a whole number of days, 1 to {MAX_ROTATE_EVERY_DAYS}", field="rotate_every"
        )
    return days


def warning_window(raw: str | None, *, default: timedelta = timedelta(days=14)) -> timedelta:
    """The `within` of the expiring list: a duration up to a year."""
    if raw is None:
        return default
    window = parse_duration(raw.strip() if not raw.strip().isdigit() else int(raw), field="within")
    if window > MAX_WARNING_WINDOW:
        raise InvalidInput("within is at most 366 days", field="within")
    return window


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


def days_left(at: datetime, now: datetime) -> int:
    """Whole days until `at`, rounded down; negative once past."""
    return (at - now) // timedelta(days=1)


def threshold_crossed(at: datetime, now: datetime) -> int | None:
    """The smallest warning threshold (in days) the time left is within, or None if none yet."""
    left = at - now
    crossed = [days for days in WARNING_THRESHOLDS_DAYS if left <= timedelta(days=days)]
    return min(crossed) if crossed else None


def expiry_status(expires_at: datetime | None, now: datetime) -> tuple[int | None, str | None]:
    """(days left, warning) for a provider status card: a warning within `STATUS_WARNING_DAYS`."""
    if expires_at is None:
        return None, None
    left = days_left(expires_at, now)
    if expires_at <= now:
        return left, "the token has expired; store a new one"
    if expires_at - now <= timedelta(days=STATUS_WARNING_DAYS):
        return (
            left,
            f"the token expires in {max(left, 0)} days ({expires_at.isoformat(timespec='seconds')}); rotate it soon",
        )
    return left, None


class ExpirySource(StrEnum):
    PROVIDER = "provider"  # the provider told us (GitHub's token expiration header)
    TTL = "ttl"  # the secret's own TTL / expires_at
    ROTATION_REMINDER = "rotation_reminder"  # `rotate_every` days after its last new value


@dataclass(frozen=True, slots=True)
class ExpiryNotice:
    """One thing of the caller's that expires or is due for rotation soon."""

    key: str
    secret_type: str
    due_at: datetime
    source: ExpirySource
    days_left: int
    expired: bool
