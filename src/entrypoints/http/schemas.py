"""Request and response shapes of the secrets API (msgspec Structs; shapes from the spec)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from domain.secrets import MAX_VERSION
from entrypoints.http import documented as rules

# Documented rules (see `documented`): the domain enforces them, with a 422 naming the field.
Key = Annotated[str, Meta(extra_json_schema=rules.meta(rules.SECRET_KEY))]
Value = Annotated[str, Meta(extra_json_schema=rules.meta(rules.NON_EMPTY))]
Tags = Annotated[
    list[Annotated[str, Meta(extra_json_schema=rules.meta(rules.TAG))]], Meta(extra_json_schema=rules.meta(rules.TAGS))
]
Type = Annotated[str, Meta(extra_json_schema=rules.meta(rules.TYPE))]
Description = Annotated[str, Meta(extra_json_schema=rules.meta(rules.DESCRIPTION))]

Version = Annotated[int, Meta(ge=1, le=MAX_VERSION, description="a version number, starting at 1")]
Ttl = Annotated[int | str, Meta(description="seconds, or a duration: 90s, 15m, 12h, 30d (1 second to 3650 days)")]
RotateEvery = Annotated[int, Meta(description="days after the last new value that a rotation is due")]


class ProblemDetail(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details, the body of every error."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None
    errors: list[dict[str, str]] | None = None
    current_version: int | None = None
    link: str | None = None  # where to fix it (e.g. the settings page for a missing token)
    provider: str | None = None  # which provider answered (or did not)


class SecretCreate(msgspec.Struct, forbid_unknown_fields=True):
    key: Key
    value: Value
    tags: Tags | None = None
    type: Type | None = None
    description: Description | None = None
    cas: Annotated[int, Meta(ge=0, le=MAX_VERSION)] | None = None
    ttl: Ttl | None = None  # or expires_at, not both
    expires_at: datetime | None = None
    rotate_every: RotateEvery | None = None


class SecretStored(msgspec.Struct):
    success: bool
    key: str
    version: int


class SecretSummary(msgspec.Struct):
    key: str
    type: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    version: int
    description: str | None = None
    last_accessed_at: datetime | None = None
    version_count: int = 1  # versions Vault keeps (the last 10)
    expires_at: datetime | None = None
    expired: bool = False  # past `expires_at`: the value is no longer served (410)
    rotate_every: int | None = None


class SecretList(msgspec.Struct):
    secrets: list[SecretSummary]


class SecretMetadataRead(msgspec.Struct):
    type: str
    tags: list[str]
    created_by: str
    created_at: datetime
    updated_at: datetime
    current_version: int
    description: str | None = None
    last_validated: datetime | None = None
    expires_at: datetime | None = None
    expired: bool = False
    rotate_every: int | None = None


class SecretRead(msgspec.Struct):
    key: str
    value: str
    version: int
    created_at: datetime
    metadata: SecretMetadataRead


class SecretVersionRead(msgspec.Struct):
    key: str
    value: str
    version: int
    created_at: datetime


class SecretDeleted(msgspec.Struct):
    success: bool
    versions_archived: int


class VersionSummary(msgspec.Struct):
    version: int
    created_at: datetime
    current: bool
    deleted: bool
    destroyed: bool
    deleted_at: datetime | None = None


class VersionList(msgspec.Struct):
    key: str
    current_version: int
    versions: list[VersionSummary]


class RollbackCreate(msgspec.Struct, forbid_unknown_fields=True):
    to_version: Version


class RollbackDone(msgspec.Struct):
    success: bool
    new_version: int
    restored_from: int


class SecretMetadataUpdate(msgspec.Struct, forbid_unknown_fields=True):
    tags: Tags | UnsetType = UNSET
    type: Type | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    ttl: Ttl | UnsetType | None = UNSET  # null (or expires_at null) clears the expiry
    expires_at: datetime | UnsetType | None = UNSET
    rotate_every: RotateEvery | UnsetType | None = UNSET


class ProviderMetadataUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """A provider secret's metadata: its type is the one its endpoint set."""

    tags: Tags | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET


class ExpiringRead(msgspec.Struct):
    key: str
    type: str
    due_at: datetime
    days_left: int
    source: str  # provider, ttl or rotation_reminder
    expired: bool


class ExpiringList(msgspec.Struct):
    within_days: float
    secrets: list[ExpiringRead]


class DatabaseHealthRead(msgspec.Struct):
    reachable: bool
    migrated: bool
    revision: str | None
    expected_revision: str | None


class CacheHealthRead(msgspec.Struct):
    kind: str
    enabled: bool
    invalidation_listener: bool | None


class BreakerHealthRead(msgspec.Struct):
    state: str
    consecutive_failures: int
    retry_after: int | None


class VaultSessionsRead(msgspec.Struct):
    """Per-user Vault logins in VAULT_USER_AUTH=jwt mode (this worker process only)."""

    logins: int
    reuses: int
    reuse_ratio: float
    mean_login_ms: float | None


class VaultHealthRead(msgspec.Struct):
    vault_reachable: bool
    sealed: bool
    initialized: bool
    version: str | None
    ready: bool
    database: DatabaseHealthRead
    cache: CacheHealthRead
    circuit_breaker: BreakerHealthRead
    vault_sessions: VaultSessionsRead | None = None


class AuditLogRead(msgspec.Struct):
    id: int
    action: str
    outcome: str
    secret: str | None
    secret_type: str | None
    version: int | None
    timestamp: datetime
    user_id: str
    actor: str
    actor_is_admin: bool
    ip: str | None
    user_agent: str | None
    request_id: str | None
    trace_id: str | None
    reason: str | None


class AuditLogPage(msgspec.Struct):
    logs: list[AuditLogRead]
    next_cursor: str | None
