"""The audit trail: events, their tamper-evident hash chain, queries over them, and the port.

Every secret operation, successful or refused, appends one `AuditEvent`. An event never carries a
secret value or a token: only who acted, on whose secret, what happened and where from.

Each stored event is chained to the one before it: `hash = chain_hash(prev_hash, event)`, a SHA-256
over a canonical, versioned encoding of the event (see `canonical_bytes`). The first event after
the anchor (the genesis, or the first event kept by the retention job) has the anchor's
`prev_hash`; every later event has its predecessor's `hash`. Changing, removing or reordering a
stored event breaks the chain at that point, which `AuditLog.verify` reports.

stdlib + msgspec only (the domain layer imports no framework or driver).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime
from enum import StrEnum

import msgspec

from domain.errors import DomainError, InvalidInput

GENESIS_HASH = "0" * 64
CHAIN_VERSION = "mirage-audit-v1"
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
SYSTEM_ACTOR = "system"

# Column bounds of the SQL store. Events are clipped to them when built, so one oversized or
# malformed event can never fail a whole batch of appends (and with it every waiting caller).
MAX_ID_CHARS = 128
MAX_KEY_CHARS = 255
MAX_TYPE_CHARS = 64
MAX_IP_CHARS = 64
MAX_USER_AGENT_CHARS = 512
MAX_REASON_CHARS = 1024
MAX_TRACE_CHARS = 128


class AuditUnavailable(DomainError):
    """The audit trail can't be written. Fail closed: the caller must not return a value."""

    title = "Audit trail unavailable"

    def __init__(self, message: str = "the audit trail is unavailable", *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuditAction(StrEnum):
    CREATE = "create"
    READ = "read"
    READ_VERSION = "read_version"
    LIST = "list"
    UPDATE = "update"
    ROTATE = "rotate"
    ROLLBACK = "rollback"
    DELETE = "delete"
    VALIDATE = "validate"
    TEST_LOGIN = "test_login"
    SYNC = "sync"
    BULK_IMPORT = "bulk_import"
    EXPORT = "export"
    METADATA_READ = "metadata_read"
    METADATA_UPDATE = "metadata_update"
    DENIED = "denied"
    AUTH_FAILED = "auth_failed"
    AUDIT_READ = "audit_read"
    AUDIT_EXPORT = "audit_export"
    RETENTION = "retention"
    # The secret lifecycle's cleanup pass, acting as the system actor on the owner's secret.
    EXPIRE = "expire"  # soft-deleted after its expiry; restorable by rollback in the recovery window
    DESTROY = "destroy"  # every version destroyed after the recovery window
    EXPIRY_WARNING = "expiry_warning"  # the expiry came within a warning threshold (14, 7, 1 days)


class AuditOutcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    CONFLICT = "conflict"
    ERROR = "error"
    UNAVAILABLE = "unavailable"


# Successful actions that hand a value (or use it on the user's behalf): "last accessed"/"last used".
ACCESS_ACTIONS = frozenset(
    {AuditAction.READ, AuditAction.READ_VERSION, AuditAction.EXPORT, AuditAction.SYNC, AuditAction.TEST_LOGIN}
)


def _now() -> datetime:
    return datetime.now(UTC)


def _clean(value: str | None, limit: int) -> str | None:
    """Printable-safe text of at most `limit` characters: no NUL (PostgreSQL rejects it in text),
    no lone surrogates (not encodable as UTF-8)."""
    if value is None:
        return None
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode()
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value[:limit]


def _utc(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput("a timestamp must carry a time zone", field=field)
    return value.astimezone(UTC)


class AuditEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One thing that happened to one user's secret (or to the trail itself). Never a value."""

    actor_id: str
    actor_is_admin: bool = False
    subject_user_id: str  # whose secret
    secret_key: str | None = None
    secret_type: str | None = None
    action: AuditAction
    outcome: AuditOutcome
    reason: str | None = None
    version: int | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    trace_id: str | None = None
    occurred_at: datetime = msgspec.field(default_factory=_now)

    def __post_init__(self) -> None:
        set_ = msgspec.structs.force_setattr
        set_(self, "action", AuditAction(self.action))
        set_(self, "outcome", AuditOutcome(self.outcome))
        set_(self, "actor_is_admin", bool(self.actor_is_admin))
        set_(self, "occurred_at", _utc(self.occurred_at, "occurred_at"))
        if self.version is not None and not (0 <= self.version < 2**31):
            raise InvalidInput("a version is a non-negative 32-bit integer", field="version")
        for name, limit in _TEXT_LIMITS:
            set_(self, name, _clean(getattr(self, name), limit))
        if not self.actor_id or not self.subject_user_id:
            raise InvalidInput("an audit event needs an actor and a subject", field="actor_id")

    def to_event(self) -> AuditEvent:
        """The plain event (drops the chain fields of a `StoredAuditEvent`)."""
        return AuditEvent(**{name: getattr(self, name) for name in EVENT_FIELDS})


_TEXT_LIMITS = (
    ("actor_id", MAX_ID_CHARS),
    ("subject_user_id", MAX_ID_CHARS),
    ("secret_key", MAX_KEY_CHARS),
    ("secret_type", MAX_TYPE_CHARS),
    ("reason", MAX_REASON_CHARS),
    ("client_ip", MAX_IP_CHARS),
    ("user_agent", MAX_USER_AGENT_CHARS),
    ("request_id", MAX_TRACE_CHARS),
    ("trace_id", MAX_TRACE_CHARS),
)

# The hashed fields, in hashing order. Adding a field means a new CHAIN_VERSION.
EVENT_FIELDS: tuple[str, ...] = (
    "occurred_at",
    "actor_id",
    "actor_is_admin",
    "subject_user_id",
    "secret_key",
    "secret_type",
    "action",
    "outcome",
    "reason",
    "version",
    "client_ip",
    "user_agent",
    "request_id",
    "trace_id",
)


class StoredAuditEvent(AuditEvent, frozen=True, kw_only=True):
    """An appended event: its position in the trail (monotonic `id`) and its chain link."""

    id: int
    prev_hash: str
    hash: str


def format_timestamp(value: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC: the hashed form (PostgreSQL: to_char(..., 'US'))."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _encode_field(value: object) -> str:
    # None is "~"; anything else is "<utf-8 byte length>:<text>", so no value can imitate a
    # separator or another field.
    if value is None:
        return "~"
    if isinstance(value, bool):
        text = "1" if value else "0"
    elif isinstance(value, datetime):
        text = format_timestamp(value)
    elif isinstance(value, StrEnum):
        text = value.value
    else:
        text = str(value)
    return f"{len(text.encode())}:{text}"


def canonical_bytes(prev_hash: str, event: AuditEvent) -> bytes:
    """The exact bytes hashed for `event` after `prev_hash` (version line, link, then fields)."""
    lines = [CHAIN_VERSION, prev_hash]
    lines.extend(_encode_field(getattr(event, name)) for name in EVENT_FIELDS)
    return "\n".join(lines).encode()


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    """SHA-256 (hex) of the canonical encoding of `event` linked to `prev_hash`."""
    return hashlib.sha256(canonical_bytes(prev_hash, event)).hexdigest()


def seal(event: AuditEvent, *, id: int, prev_hash: str) -> StoredAuditEvent:
    """`event` as the stored link after `prev_hash`."""
    fields = {name: getattr(event, name) for name in EVENT_FIELDS}
    return StoredAuditEvent(**fields, id=id, prev_hash=prev_hash, hash=chain_hash(prev_hash, event))


# ---------------------------------------------------------------------------------------------
# Queries


def encode_cursor(occurred_at: datetime, event_id: int) -> str:
    """The opaque keyset cursor after the event (occurred_at, id): URL-safe base64."""
    raw = f"{format_timestamp(occurred_at)}|{event_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Undo `encode_cursor`; anything else is `InvalidInput` (field "cursor")."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        when, _, number = raw.partition("|")
        occurred_at = datetime.strptime(when, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        event_id = int(number)
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidInput("the cursor is not one this API returned", field="cursor") from None
    if event_id < 0 or len(cursor) > 128:
        raise InvalidInput("the cursor is not one this API returned", field="cursor")
    return occurred_at, event_id


class AuditQuery(msgspec.Struct, frozen=True, kw_only=True):
    """One page of one user's trail, newest first. `start` is inclusive, `end` exclusive."""

    subject_user_id: str
    secret_key: str | None = None
    action: AuditAction | None = None
    outcome: AuditOutcome | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None

    def __post_init__(self) -> None:
        set_ = msgspec.structs.force_setattr
        if not self.subject_user_id:
            raise InvalidInput("an audit query names the user whose trail it reads", field="user_id")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise InvalidInput(f"limit is between 1 and {MAX_PAGE_SIZE}", field="limit")
        try:
            if self.action is not None:
                set_(self, "action", AuditAction(self.action))
        except ValueError:
            raise InvalidInput("unknown action", field="action") from None
        try:
            if self.outcome is not None:
                set_(self, "outcome", AuditOutcome(self.outcome))
        except ValueError:
            raise InvalidInput("unknown outcome", field="outcome") from None
        if self.start is not None:
            set_(self, "start", _utc(self.start, "start_date"))
        if self.end is not None:
            set_(self, "end", _utc(self.end, "end_date"))
        if self.start is not None and self.end is not None and self.start > self.end:
            raise InvalidInput("start_date is after end_date", field="start_date")
        if self.cursor is not None:
            decode_cursor(self.cursor)  # validate early: a bad cursor is the caller's error

    @property
    def after(self) -> tuple[datetime, int] | None:
        """The (occurred_at, id) the page continues after, from the cursor."""
        return decode_cursor(self.cursor) if self.cursor is not None else None

    def matches(self, event: StoredAuditEvent) -> bool:
        """The filter in Python (the in-memory fake; SQL stores apply it in the query)."""
        if event.subject_user_id != self.subject_user_id:
            return False
        if self.secret_key is not None and event.secret_key != self.secret_key:
            return False
        if self.action is not None and event.action != self.action:
            return False
        if self.outcome is not None and event.outcome != self.outcome:
            return False
        if self.start is not None and event.occurred_at < self.start:
            return False
        if self.end is not None and event.occurred_at >= self.end:
            return False
        after = self.after
        return after is None or (event.occurred_at, event.id) < after


class AuditPage(msgspec.Struct, frozen=True):
    events: tuple[StoredAuditEvent, ...]
    next_cursor: str | None = None


class ChainVerification(msgspec.Struct, frozen=True, kw_only=True):
    """The result of walking the chain: `first_broken_id` names the first event that fails."""

    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str | None = None


def retention_event(removed: int, cutoff: datetime, *, at: datetime | None = None) -> AuditEvent:
    """The event the retention job appends after removing `removed` events older than `cutoff`."""
    return AuditEvent(
        actor_id=SYSTEM_ACTOR,
        subject_user_id=SYSTEM_ACTOR,
        action=AuditAction.RETENTION,
        outcome=AuditOutcome.SUCCESS,
        reason=f"removed {removed} events older than {format_timestamp(cutoff)}",
        occurred_at=at or _now(),
    )
