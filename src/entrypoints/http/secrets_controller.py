"""`/api/v1/secrets`: generic secrets, their versions and metadata. Thin: parse, call, convert."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from domain.errors import InvalidInput
from domain.lifecycle import is_expired, warning_window
from domain.secrets import MAX_VERSION, SecretMetadata, SecretRecord
from domain.values import Principal, SecretValue
from entrypoints.http import documented as rules
from entrypoints.http import schemas
from entrypoints.http.responses import PROBLEM_RESPONSES
from services.secret_lifecycle import ExpiringSecretsService
from services.secret_service import UNSET as SERVICE_UNSET
from services.secret_service import SecretService, utc_now

# Set on a read served from cache while Vault is unreachable: the value's age in seconds.
STALE_HEADER = "X-Secrets-Stale"

Key = Annotated[
    str,
    PathParameter(
        description="the secret's key: letters, digits, '_', '.', '-'; no '..'", schema_extra=rules.SECRET_KEY
    ),
]
Version = Annotated[
    int, PathParameter(description="a version number", schema_extra={"minimum": 1, "maximum": MAX_VERSION})
]
Caller = NamedDependency[Principal]
Secrets = NamedDependency[SecretService]


class SecretsController(Controller):
    path = "/api/v1/secrets"
    tags = ["secrets"]

    @post(
        "/", status_code=201, summary="Store a secret (a new version when the key exists)", responses=PROBLEM_RESPONSES
    )
    async def store(
        self, data: JSONBody[schemas.SecretCreate], principal: Caller, secret_service: Secrets
    ) -> schemas.SecretStored:
        stored = await secret_service.store(
            principal,
            key=data.key,
            value=SecretValue(data.value),
            tags=data.tags,
            secret_type=data.type,
            description=data.description,
            cas=data.cas,
            ttl=data.ttl,
            expires_at=data.expires_at,
            rotate_every=data.rotate_every,
        )
        return schemas.SecretStored(success=True, key=stored.key, version=stored.version)

    @get("/", summary="List the caller's secrets (metadata only, never values)", responses=PROBLEM_RESPONSES)
    async def list_secrets(
        self,
        principal: Caller,
        secret_service: Secrets,
        secret_type: Annotated[
            str | None, QueryParameter(name="type", description="exact type", schema_extra=rules.FILTER)
        ] = None,
        tag: Annotated[list[str] | None, QueryParameter(description="repeatable; all must match")] = None,
        q: Annotated[str | None, QueryParameter(description="substring of the key", schema_extra=rules.FILTER)] = None,
    ) -> schemas.SecretList:
        records = await secret_service.list(principal, secret_type=secret_type, tags=tag or (), query=q)
        return summaries(records)

    @get(
        "/expiring",
        summary="The caller's secrets and provider tokens that expire or are due for rotation soon",
        description="`within` is a duration (`14d`, `12h`, or seconds; default 14d, at most 366d). `source` says "
        "where the date comes from: `provider` (e.g. GitHub's token expiration), `ttl` or `rotation_reminder`.",
        responses=PROBLEM_RESPONSES,
    )
    async def expiring(
        self,
        principal: Caller,
        expiring_service: NamedDependency[ExpiringSecretsService],
        within: Annotated[str | None, QueryParameter(description="a duration, e.g. 14d", max_length=16)] = None,
    ) -> schemas.ExpiringList:
        window = warning_window(within)
        notices = await expiring_service.expiring(principal, window)
        return schemas.ExpiringList(
            within_days=window.total_seconds() / 86400,
            secrets=[
                schemas.ExpiringRead(
                    key=n.key,
                    type=n.secret_type,
                    due_at=n.due_at,
                    days_left=n.days_left,
                    source=n.source.value,
                    expired=n.expired,
                )
                for n in notices
            ],
        )

    @get(
        "/{key:str}",
        summary="Read a secret's current value and metadata",
        description=f"While Vault is unreachable a cached value may be served; the `{STALE_HEADER}` header "
        "then says how many seconds old it is.",
        responses=PROBLEM_RESPONSES,
    )
    async def read(self, key: Key, principal: Caller, secret_service: Secrets) -> Response[schemas.SecretRead]:
        view = await secret_service.get(principal, key)
        body = schemas.SecretRead(
            key=view.key,
            value=view.value.reveal(),
            version=view.version,
            created_at=view.created_at,
            metadata=_metadata_read(view.metadata, current_version=view.current_version, updated_at=view.updated_at),
        )
        headers = {STALE_HEADER: str(int(view.stale_seconds))} if view.stale_seconds is not None else {}
        return Response(body, headers=headers)

    @delete(
        "/{key:str}",
        status_code=200,
        summary="Soft-delete a secret; its versions are kept",
        responses=PROBLEM_RESPONSES,
    )
    async def remove(self, key: Key, principal: Caller, secret_service: Secrets) -> schemas.SecretDeleted:
        kept = await secret_service.delete(principal, key)
        return schemas.SecretDeleted(success=True, versions_archived=kept)

    @get("/{key:str}/versions", summary="A secret's version history, newest first", responses=PROBLEM_RESPONSES)
    async def versions(self, key: Key, principal: Caller, secret_service: Secrets) -> schemas.VersionList:
        return await version_list(secret_service, principal, key)

    @get("/{key:str}/versions/{version:int}", summary="Read one version's value", responses=PROBLEM_RESPONSES)
    async def read_version(
        self, key: Key, version: Version, principal: Caller, secret_service: Secrets
    ) -> schemas.SecretVersionRead:
        return await version_read(secret_service, principal, key, version)

    @post(
        "/{key:str}/rollback",
        status_code=201,
        summary="Write a new version holding an old version's value",
        responses=PROBLEM_RESPONSES,
    )
    async def rollback(
        self, key: Key, data: JSONBody[schemas.RollbackCreate], principal: Caller, secret_service: Secrets
    ) -> schemas.RollbackDone:
        return await rollback_to(secret_service, principal, key, data)

    @get(
        "/{key:str}/metadata",
        summary="A secret's metadata (tags, type, description, timestamps)",
        responses=PROBLEM_RESPONSES,
    )
    async def read_metadata(self, key: Key, principal: Caller, secret_service: Secrets) -> schemas.SecretMetadataRead:
        return await metadata_read(secret_service, principal, key)

    @patch(
        "/{key:str}/metadata",
        summary="Change tags, type or description without a new value version",
        responses=PROBLEM_RESPONSES,
    )
    async def update_metadata(
        self, key: Key, data: JSONBody[schemas.SecretMetadataUpdate], principal: Caller, secret_service: Secrets
    ) -> schemas.SecretMetadataRead:
        return await metadata_update(secret_service, principal, key, data)


# What the generic routes do for a key, shared with the routes that take a key in another form
# (`/api/v1/secrets/docker/{registry}/...` for the key `docker/{registry}`).


async def version_list(secret_service: SecretService, principal: Principal, key: str) -> schemas.VersionList:
    history = await secret_service.versions(principal, key)
    return schemas.VersionList(
        key=history.key,
        current_version=history.current_version,
        versions=[
            schemas.VersionSummary(
                version=v.version,
                created_at=v.created_at,
                current=v.version == history.current_version,
                deleted=v.deleted_at is not None,
                destroyed=v.destroyed,
                deleted_at=v.deleted_at,
            )
            for v in history.versions
        ],
    )


async def version_read(
    secret_service: SecretService, principal: Principal, key: str, version: int
) -> schemas.SecretVersionRead:
    if version < 1:
        raise InvalidInput("versions start at 1", field="version")
    view = await secret_service.get_version(principal, key, version)
    return schemas.SecretVersionRead(
        key=view.key, value=view.value.reveal(), version=view.version, created_at=view.created_at
    )


async def rollback_to(
    secret_service: SecretService, principal: Principal, key: str, data: schemas.RollbackCreate
) -> schemas.RollbackDone:
    done = await secret_service.rollback(principal, key, to_version=data.to_version)
    return schemas.RollbackDone(success=True, new_version=done.new_version, restored_from=done.restored_from)


async def metadata_read(secret_service: SecretService, principal: Principal, key: str) -> schemas.SecretMetadataRead:
    metadata, vault_metadata = await secret_service.get_metadata(principal, key)
    return _metadata_read(
        metadata, current_version=vault_metadata.current_version, updated_at=vault_metadata.updated_at
    )


async def metadata_update(
    secret_service: SecretService, principal: Principal, key: str, data: schemas.SecretMetadataUpdate
) -> schemas.SecretMetadataRead:
    metadata, vault_metadata = await secret_service.update_metadata(
        principal,
        key,
        tags=SERVICE_UNSET if data.tags is schemas.UNSET else data.tags,
        secret_type=SERVICE_UNSET if data.type is schemas.UNSET else data.type,
        description=SERVICE_UNSET if data.description is schemas.UNSET else data.description,
        ttl=SERVICE_UNSET if data.ttl is schemas.UNSET else data.ttl,
        expires_at=SERVICE_UNSET if data.expires_at is schemas.UNSET else data.expires_at,
        rotate_every=SERVICE_UNSET if data.rotate_every is schemas.UNSET else data.rotate_every,
    )
    return _metadata_read(
        metadata, current_version=vault_metadata.current_version, updated_at=vault_metadata.updated_at
    )


def _metadata_read(
    metadata: SecretMetadata, *, current_version: int, updated_at: datetime
) -> schemas.SecretMetadataRead:
    return schemas.SecretMetadataRead(
        type=metadata.secret_type,
        tags=list(metadata.tags),
        created_by=metadata.created_by,
        created_at=metadata.created_at,
        updated_at=updated_at,
        current_version=current_version,
        description=metadata.description,
        last_validated=metadata.last_validated,
        expires_at=metadata.expires_at,
        expired=is_expired(metadata.expires_at, utc_now()),
        rotate_every=metadata.rotate_every_days,
    )


def summaries(records: list[SecretRecord]) -> schemas.SecretList:
    now = utc_now()
    return schemas.SecretList(
        secrets=[
            schemas.SecretSummary(
                key=r.key,
                type=r.secret_type,
                tags=list(r.tags),
                created_at=r.created_at,
                updated_at=r.updated_at,
                version=r.current_version,
                description=r.description,
                last_accessed_at=r.last_accessed_at,
                version_count=r.version_count,
                expires_at=r.expires_at,
                expired=is_expired(r.expires_at, now),
                rotate_every=r.rotate_every_days,
            )
            for r in records
        ]
    )
