"""The audit trail: events, their tamper-evident hash chain, queries over them, and the port.

Every secret operation, successful or refused, appends one `AuditEvent`. An event never carries a
secret value or a token: only who acted, on whose secret, what happened and where from.

Events are hash-chained per writer segment (see docs/audit-chain.md): each writer process
registers a segment when it starts and appends seq 1, 2, 3, ... to it, each event's
`hash = segment_hash(prev_hash, segment_id, seq, event_values(event))`, a SHA-256 over a
canonical, versioned, length-prefixed encoding; the first event links to `segment_genesis(id)`
(or, after retention, to the segment's anchor). All segments are verified together
(`ChainVerifier`); the global `id` orders events across segments. Changing, removing, inserting
or renumbering a stored event breaks its segment at that point; removing a segment's newest
events is caught against the chain heads witnessed outside the database (`ChainWitness`).
Rows written before segments existed form the legacy segment 0 (v1 encoding, one chain by id).

stdlib + msgspec only (the domain layer imports no framework or driver).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
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
    if value.isascii() and len(value) <= limit and "\x00" not in value:
        return value  # the common case, checked without copying
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode()
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value[:limit]


def _utc(value: datetime, field: str) -> datetime:
    if value.tzinfo is UTC:
        return value  # already normalised (every event the service builds)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput("a timestamp must carry a time zone", field=field)
    return value.astimezone(UTC)


INVALID_KEY_PREFIX = "invalid:"
_MAX_INVALID_KEY_REPR = 200
# What a key the service accepts can look like: custom keys, `railway`, `github`,
# `docker/<host[:port]>`, `env_vars/<env>/<name>`. Never a quote, a space, a formula sign first.
_TRAIL_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./:@-]{0,254}")


def trail_key(key: str | None, *, refused: bool = False) -> str | None:
    """The key as the trail records it. A key the service refused (`refused`), or one no valid
    key could look like, is recorded as `invalid:` + its escaped `ascii()` form, truncated: no
    accepted key starts with `invalid:` (none has a quote), so the two can't be mistaken, and
    the record can't start with a spreadsheet formula sign."""
    if key is None:
        return None
    if not refused and _TRAIL_KEY.fullmatch(key) and ".." not in key and not key.startswith(INVALID_KEY_PREFIX):
        return key
    return INVALID_KEY_PREFIX + ascii(key)[:_MAX_INVALID_KEY_REPR]


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
        # Each check skips the copy when the value is already in its normal form: events are
        # built once per request and again as the stored event (the append's hot path).
        if type(self.action) is not AuditAction:
            set_(self, "action", AuditAction(self.action))
        if type(self.outcome) is not AuditOutcome:
            set_(self, "outcome", AuditOutcome(self.outcome))
        if type(self.actor_is_admin) is not bool:
            set_(self, "actor_is_admin", bool(self.actor_is_admin))
        if self.occurred_at.tzinfo is not UTC:
            set_(self, "occurred_at", _utc(self.occurred_at, "occurred_at"))
        if self.version is not None and not (0 <= self.version < 2**31):
            raise InvalidInput("a version is a non-negative 32-bit integer", field="version")
        for name, limit in _TEXT_LIMITS:
            value = getattr(self, name)
            cleaned = _clean(value, limit)
            if cleaned is not value:
                set_(self, name, cleaned)
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
    """An appended event: its global position (`id`, monotonic across writers), the writer
    segment it belongs to, its place in that segment (`seq`, 1, 2, 3, ... without gaps) and its
    chain link. `segment_id == LEGACY_SEGMENT` marks rows of the single v1 chain (no `seq`)."""

    id: int
    prev_hash: str
    hash: str
    segment_id: int = 0
    seq: int | None = None


def format_timestamp(value: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC (year zero-padded to 4 digits): the hashed form."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")[:-6] + "Z"  # drop "+00:00"


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
    return f"{len(text) if text.isascii() else len(text.encode())}:{text}"


def canonical_bytes(prev_hash: str, event: AuditEvent) -> bytes:
    """The exact v1 bytes hashed for `event` after `prev_hash` (version line, link, then fields).
    v1 is the single-chain format of the legacy segment; new events are hashed with v2."""
    lines = [CHAIN_VERSION, prev_hash]
    lines.extend(_encode_field(getattr(event, name)) for name in EVENT_FIELDS)
    return "\n".join(lines).encode()


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    """SHA-256 (hex) of the v1 canonical encoding of `event` linked to `prev_hash` (legacy rows)."""
    return hashlib.sha256(canonical_bytes(prev_hash, event)).hexdigest()


# ---------------------------------------------------------------------------------------------
# The segmented chain (v2)
#
# Every writer (one per process, registered in the store when it starts, never reused) appends to
# its own segment: seq 1, 2, 3, ... each hash-linked to the one before, the first to the
# segment's genesis hash. The v2 encoding adds the segment id and the seq to what is hashed, so a
# row can be neither moved to another segment nor renumbered without breaking its hash.

CHAIN_VERSION_V2 = "mirage-audit-v2"
LEGACY_SEGMENT = 0


def segment_genesis(segment_id: int) -> str:
    """The `prev_hash` of a segment's first event: bound to the segment id, so the first event of
    one segment can't pass as the first event of another."""
    return hashlib.sha256(f"{CHAIN_VERSION_V2}\ngenesis\n{segment_id}".encode()).hexdigest()


def event_values(event: AuditEvent) -> tuple[object, ...]:
    """The hashed fields of `event` in `EVENT_FIELDS` order, in their stored form (timestamp as
    text, enums as their values): what `segment_hash` takes, and what a store reads back."""
    return (
        format_timestamp(event.occurred_at),
        event.actor_id,
        event.actor_is_admin,
        event.subject_user_id,
        event.secret_key,
        event.secret_type,
        event.action.value,
        event.outcome.value,
        event.reason,
        event.version,
        event.client_ip,
        event.user_agent,
        event.request_id,
        event.trace_id,
    )


def segment_canonical(prev_hash: str, segment_id: int, seq: int, values: Sequence[object]) -> str:
    """The v2 text hashed for one event: lines `mirage-audit-v2`, `prev_hash`, the segment id,
    the seq, then each of `values` (as `event_values` gives them) as `~` for null, `1:1`/`1:0` for
    a boolean, else `<UTF-8 byte length>:<text>`: no value can imitate a separator or another
    field. Simple on purpose: `verify` on PostgreSQL has the server spell each row out the same
    way (`octet_length`, `to_char`), and only hashes and compares in process."""
    parts = [CHAIN_VERSION_V2, prev_hash, str(segment_id), str(seq)]
    append = parts.append
    for value in values:
        if value is None:
            append("~")
        elif value is True:
            append("1:1")
        elif value is False:
            append("1:0")
        else:
            text = value if isinstance(value, str) else str(value)
            append(f"{len(text) if text.isascii() else len(text.encode())}:{text}")
    return "\n".join(parts)


def segment_hash(prev_hash: str, segment_id: int, seq: int, values: Sequence[object]) -> str:
    """SHA-256 (hex) of `segment_canonical(...)` in UTF-8."""
    return hashlib.sha256(segment_canonical(prev_hash, segment_id, seq, values).encode()).hexdigest()


def seal(event: AuditEvent, *, id: int, prev_hash: str, segment_id: int, seq: int) -> StoredAuditEvent:
    """`event` as link `seq` of segment `segment_id`, after `prev_hash`."""
    fields = {name: getattr(event, name) for name in EVENT_FIELDS}
    digest = segment_hash(prev_hash, segment_id, seq, event_values(event))
    return StoredAuditEvent(**fields, id=id, prev_hash=prev_hash, hash=digest, segment_id=segment_id, seq=seq)


class ChainHead(msgspec.Struct, frozen=True):
    """The newest link of one segment: what the witness keeps outside the database."""

    seq: int
    hash: str


class SegmentAnchor(msgspec.Struct, frozen=True):
    """Where a segment's kept events start: its first kept `seq` and the hash that event's
    `prev_hash` must equal. At registration (1, `segment_genesis(id)`); the retention job moves it."""

    first_seq: int
    prev_hash: str


class WitnessUnavailable(DomainError):
    """The witness store can't be read or written."""

    title = "Audit witness unavailable"


# ---------------------------------------------------------------------------------------------
# Verification: the one set of rules every store feeds its rows through


_MISSING = "prev_hash does not match the preceding event: an event is missing or altered"
_ALTERED = "hash does not match the event's content: the event was altered"


class ChainVerifier:
    """Checks a trail's rows, fed segment by segment in `seq` order (legacy rows in id order).

    Detects: an altered row (its hash), a removed or inserted row inside a segment (the `seq`
    sequence and the `prev_hash` links), rows of a segment that was never registered, a segment
    that does not start at its anchor, and, against `witnessed` heads, removed newest events or a
    rewritten segment tail. Usage: `feed(row)` for every row, then `finish()`.
    """

    def __init__(
        self,
        anchors: dict[int, SegmentAnchor],
        *,
        legacy_anchor: tuple[int, str] = (0, GENESIS_HASH),
        witnessed: dict[int, ChainHead] | None = None,
    ) -> None:
        self._anchors = anchors
        self._legacy_start, self._legacy_prev = legacy_anchor
        self._witnessed = dict(witnessed or {})
        self._confirmed: set[int] = set()
        self._segment: int | None = None
        self._expected_seq = 0
        self._expected_prev = ""
        self.checked = 0
        self.failure: ChainVerification | None = None

    def _fail(self, event_id: int | None, reason: str) -> bool:
        self.failure = ChainVerification(ok=False, checked=self.checked, first_broken_id=event_id, reason=reason)
        return False

    def feed(
        self, event_id: int, segment_id: int, seq: int | None, prev_hash: str, digest: str, values: Sequence[object]
    ) -> bool:
        """Check one row (values as `event_values` gives them); False once the chain is broken."""
        if segment_id == LEGACY_SEGMENT:
            return self._feed_legacy(event_id, prev_hash, digest, values)
        if not self._enter(event_id, segment_id, seq, prev_hash):
            return False
        assert seq is not None  # _enter matched it against the expected seq
        if segment_hash(prev_hash, segment_id, seq, values) != digest:
            return self._fail(event_id, _ALTERED)
        return self._linked(event_id, segment_id, seq, digest)

    def feed_canonical(
        self, event_id: int, segment_id: int, seq: int | None, prev_hash: str, digest: str, canonical: str
    ) -> bool:
        """`feed` for a row whose `segment_canonical` text the store spelled out itself (the
        PostgreSQL verify); the text must start with the row's own link, segment and seq."""
        if segment_id == LEGACY_SEGMENT:
            return self._fail(event_id, "a legacy (v1) row can't be checked from its v2 text")
        if not self._enter(event_id, segment_id, seq, prev_hash):
            return False
        assert seq is not None  # _enter matched it against the expected seq
        if not canonical.startswith(f"{CHAIN_VERSION_V2}\n{prev_hash}\n{segment_id}\n{seq}\n"):
            return self._fail(event_id, _ALTERED)
        if hashlib.sha256(canonical.encode()).hexdigest() != digest:
            return self._fail(event_id, _ALTERED)
        return self._linked(event_id, segment_id, seq, digest)

    def _linked(self, event_id: int, segment_id: int, seq: int, digest: str) -> bool:
        witnessed = self._witnessed.get(segment_id)
        if witnessed is not None and witnessed.seq == seq:
            if witnessed.hash != digest:
                return self._fail(event_id, f"segment {segment_id} differs from its witnessed head: rewritten")
            self._confirmed.add(segment_id)
        self._expected_seq = seq + 1
        self._expected_prev = digest
        self.checked += 1
        return True

    def _enter(self, event_id: int, segment_id: int, seq: int | None, prev_hash: str) -> bool:
        """The row's place: a registered segment, the next seq, linked to its predecessor."""
        if segment_id != self._segment:
            anchor = self._anchors.get(segment_id)
            if anchor is None:
                return self._fail(event_id, f"segment {segment_id} was never registered: the event was inserted")
            self._segment = segment_id
            self._expected_seq, self._expected_prev = anchor.first_seq, anchor.prev_hash
        if seq != self._expected_seq:
            return self._fail(event_id, f"{_MISSING} (segment {segment_id} expected seq {self._expected_seq})")
        if prev_hash != self._expected_prev:
            return self._fail(event_id, _MISSING)
        return True

    def _feed_legacy(self, event_id: int, prev_hash: str, digest: str, values: Sequence[object]) -> bool:
        if event_id < self._legacy_start:
            return True
        if prev_hash != self._legacy_prev:
            return self._fail(event_id, _MISSING)
        lines = [CHAIN_VERSION, prev_hash]
        for value in values:
            lines.append(_encode_field(value))
        if hashlib.sha256("\n".join(lines).encode()).hexdigest() != digest:
            return self._fail(event_id, _ALTERED)
        self._legacy_prev = digest
        self.checked += 1
        return True

    def finish(self) -> ChainVerification:
        """The verdict; witnessed heads that no row confirmed are removed events (unless the
        retention job removed them: its anchor is past the witnessed seq)."""
        if self.failure is not None:
            return self.failure
        for segment_id, head in sorted(self._witnessed.items()):
            if segment_id in self._confirmed:
                continue
            anchor = self._anchors.get(segment_id)
            if anchor is not None and anchor.first_seq > head.seq:
                continue  # retention removed it, and the anchor says so
            return ChainVerification(
                ok=False,
                checked=self.checked,
                reason=(
                    f"segment {segment_id} lacks its witnessed head (seq {head.seq}): the newest events were removed"
                ),
            )
        return ChainVerification(
            ok=True, checked=self.checked, segments=len(self._anchors), witnessed=len(self._witnessed)
        )


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
    if not 0 <= event_id < 2**63 or len(cursor) > 128:  # ids are PostgreSQL bigints
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
    """The result of walking the chain: `first_broken_id` names the first event that fails.
    `segments`: writer segments registered; `witnessed`: segments checked against a witness."""

    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str | None = None
    segments: int = 0
    witnessed: int = 0


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
