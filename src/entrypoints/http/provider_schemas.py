"""Request and response shapes of the provider, environment and admin endpoints (spec shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from entrypoints.http import documented as rules

# A provider token as the schema documents it; `validate_token` enforces it (422).
Token = Annotated[str, Meta(extra_json_schema=rules.meta(rules.TOKEN))]


class RailwayTokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    token: Token


class RailwayTokenStored(msgspec.Struct):
    success: bool
    validated: bool
    stored_at: datetime
    version: int
    token_kind: str


class RailwayStatusRead(msgspec.Struct):
    configured: bool
    last_validated: datetime | None
    needs_rotation: bool
    source: str | None
    version: int | None = None
    token_kind: str | None = None
    expires_at: datetime | None = None
    expires_in_days: int | None = None
    warning: str | None = None  # within 14 days of `expires_at`


class RailwayValidationRead(msgspec.Struct):
    valid: bool
    permissions: list[str]
    token_kind: str | None = None
    detail: str | None = None


class RailwayDeleted(msgspec.Struct):
    success: bool
    affected_environments: int


class RailwayRotate(msgspec.Struct, forbid_unknown_fields=True):
    new_token: Token


class RailwayRotated(msgspec.Struct):
    success: bool
    version: int
    previous_version: int


class GitHubTokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    token: Token


class GitHubTokenStored(msgspec.Struct):
    success: bool
    username: str


class GitHubStatusRead(msgspec.Struct):
    configured: bool
    last_validated: datetime | None = None
    username: str | None = None
    scopes: list[str] = msgspec.field(default_factory=list)
    token_type: str | None = None
    expires_at: datetime | None = None
    expires_soon: bool = False
    expires_in_days: int | None = None
    warning: str | None = None  # within 14 days of the expiry GitHub reported
    repository_count: int | None = None  # repositories the token reaches, as of the last validation


class Done(msgspec.Struct):
    success: bool


class DockerCredentialsCreate(msgspec.Struct, forbid_unknown_fields=True):
    registry: Annotated[str, Meta(extra_json_schema=rules.meta(rules.REGISTRY))]
    username: Annotated[str, Meta(extra_json_schema=rules.meta(rules.REGISTRY_USERNAME))]
    password: Annotated[str, Meta(extra_json_schema=rules.meta(rules.NON_EMPTY))]
    email: Annotated[str, Meta(extra_json_schema=rules.meta(rules.EMAIL))] | None = None


class DockerStored(msgspec.Struct):
    success: bool
    registry: str
    version: int


class DockerRegistryEntry(msgspec.Struct):
    registry: str
    last_used_at: datetime | None = None  # the login last read for use (credentials export, test login)
    last_validated: datetime | None = None


class DockerRegistries(msgspec.Struct):
    registries: list[str]
    entries: list[DockerRegistryEntry] = msgspec.field(default_factory=list)


class DockerCredentialsRead(msgspec.Struct):
    registry: str
    username: str
    email: str | None
    version: int
    last_validated: datetime | None = None
    last_used_at: datetime | None = None


class DockerTestRead(msgspec.Struct):
    valid: bool
    detail: str
    scheme: str | None = None


class DockerDeleted(msgspec.Struct):
    success: bool
    registry: str


class EnvSecretCreate(msgspec.Struct, forbid_unknown_fields=True):
    key: Annotated[str, Meta(extra_json_schema=rules.meta(rules.ENV_VAR_NAME))]
    value: str
    ttl: int | str | None = None  # seconds or 90s/15m/12h/30d; or expires_at, not both
    expires_at: datetime | None = None


class EnvSecretStored(msgspec.Struct):
    success: bool
    key: str
    version: int


class EnvSecretList(msgspec.Struct):
    secrets: list[str]  # the live variables
    expired: list[str] = msgspec.field(default_factory=list)  # past their expiry: never served
    expires_at: dict[str, datetime] = msgspec.field(default_factory=dict)  # the live ones that expire


class EnvSecretRead(msgspec.Struct):
    key: str
    value: str
    created_at: datetime
    version: int
    expires_at: datetime | None = None


class EnvValuesRead(msgspec.Struct):
    """Every variable of an environment with its value (one audited read)."""

    environment: str
    version: int
    secrets: dict[str, str]
    expired: list[str] = msgspec.field(default_factory=list)  # left out: past their expiry


class EnvSecretDeleted(msgspec.Struct):
    success: bool
    key: str


class EnvBulkCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Either `secrets` (a JSON object) or `dotenv` (the text of a .env file), not both."""

    secrets: dict[str, str] | None = None
    dotenv: str | None = None


class EnvBulkStored(msgspec.Struct):
    success: bool
    stored: int
    version: int


class SyncCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Railway ids; optional after the first sync of the environment, which remembers them."""

    project_id: str | None = None
    environment_id: str | None = None
    service_id: str | None = None
    replace: bool = False


class VariableChangeRead(msgspec.Struct, omit_defaults=True):
    key: str
    old: str | None = None
    new: str | None = None


class SyncRead(msgspec.Struct):
    dry_run: bool
    applied: bool
    replace: bool
    project_id: str
    environment_id: str
    service_id: str | None
    added: list[VariableChangeRead]
    changed: list[VariableChangeRead]
    removed: list[VariableChangeRead]
    unchanged: int
    token_source: str


class MigrationStatusRead(msgspec.Struct):
    vault_enabled: bool
    env_token_configured: bool
    users: int
    vault: int
    env: int
    none: int


CredentialExport = dict[str, Any]
