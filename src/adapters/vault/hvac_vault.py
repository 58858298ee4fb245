"""`SecretVault` on HashiCorp Vault / OpenBao KV v2 through hvac.

hvac is synchronous, so every call runs in a small dedicated thread pool, never on the event loop.
Vendor errors are translated here; no hvac or requests exception crosses the port.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import hvac
import hvac.exceptions as hvac_errors
import requests

from adapters.vault.client import VAULT_CONCURRENCY
from domain.errors import (
    SecretNotFound,
    VaultRefused,
    VaultUnavailable,
    VersionConflict,
)
from domain.ports import VaultHealth
from domain.secrets import VaultEntry, VaultMetadata, VersionInfo, missing_version_error
from domain.values import SecretValue

T = TypeVar("T")

_CAS_MISMATCH = "check-and-set parameter did not match"


def new_vault_executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=VAULT_CONCURRENCY, thread_name_prefix="vault")


def parse_vault_time(raw: str | None) -> datetime | None:
    """Vault prints RFC 3339 with nanoseconds ('2024-11-13T21:51:50.898782695Z'); Python takes micro."""
    if not raw:
        return None
    text = raw.rstrip("Z")
    if "." in text:
        whole, fraction = text.split(".", 1)
        text = f"{whole}.{fraction[:6]}"
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class HvacSecretVault:
    """Implements `domain.ports.SecretVault` on one KV v2 mount."""

    def __init__(self, client: hvac.Client, *, mount: str, executor: ThreadPoolExecutor | None = None) -> None:
        self._client = client
        self._mount = mount
        # Per-user vaults share their owner's pool; a vault that made its own pool closes it.
        self._owns_pool = executor is None
        self._pool = executor or new_vault_executor()

    @property
    def client(self) -> hvac.Client:
        return self._client

    async def close(self) -> None:
        if self._owns_pool:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.adapter.close()

    async def _call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise VaultUnavailable("the secret store did not answer") from exc
        except (hvac_errors.VaultDown, hvac_errors.VaultNotInitialized) as exc:
            raise VaultUnavailable("the secret store is sealed or not initialised") from exc
        except (hvac_errors.InternalServerError, hvac_errors.BadGateway, hvac_errors.RateLimitExceeded) as exc:
            raise VaultUnavailable("the secret store is failing") from exc
        except (hvac_errors.Forbidden, hvac_errors.Unauthorized) as exc:
            raise VaultRefused("the secret store refused access to this path") from exc
        except (hvac_errors.InvalidPath, hvac_errors.InvalidRequest):
            raise  # the caller knows what "not there" and "bad request" mean for its operation
        except hvac_errors.VaultError as exc:
            raise VaultUnavailable("the secret store gave an unexpected answer") from exc

    # -- reads --------------------------------------------------------------------------------

    async def read(self, path: str, version: int | None = None) -> VaultEntry:
        try:
            response = await self._call(
                self._client.secrets.kv.v2.read_secret_version,
                path=path,
                version=version,
                mount_point=self._mount,
                raise_on_deleted_version=True,
            )
        except hvac_errors.InvalidPath:
            if version is None:
                raise SecretNotFound("no secret is stored under this key") from None
            raise await self._explain_missing_version(path, version) from None
        except hvac_errors.InvalidRequest:
            raise VaultRefused("the secret store rejected the read") from None
        body = response["data"]
        meta = body["metadata"]
        data = body.get("data") or {}
        return VaultEntry(
            data={name: SecretValue(str(value)) for name, value in data.items()},
            version=int(meta["version"]),
            created_at=parse_vault_time(meta.get("created_time")) or datetime.now(UTC),
            custom=dict(meta.get("custom_metadata") or {}),
        )

    async def _explain_missing_version(self, path: str, version: int) -> Exception:
        return missing_version_error(await self.read_metadata(path), version)

    async def read_metadata(self, path: str) -> VaultMetadata | None:
        try:
            response = await self._call(
                self._client.secrets.kv.v2.read_secret_metadata, path=path, mount_point=self._mount
            )
        except hvac_errors.InvalidPath:
            return None
        except hvac_errors.InvalidRequest:
            raise VaultRefused("the secret store rejected the metadata read") from None
        body = response["data"]
        versions = tuple(
            VersionInfo(
                version=int(number),
                created_at=parse_vault_time(raw.get("created_time")) or datetime.now(UTC),
                deleted_at=parse_vault_time(raw.get("deletion_time")),
                destroyed=bool(raw.get("destroyed")),
            )
            for number, raw in body.get("versions", {}).items()
        )
        return VaultMetadata(
            current_version=int(body.get("current_version", 0)),
            oldest_version=int(body.get("oldest_version", 0)),
            created_at=parse_vault_time(body.get("created_time")) or datetime.now(UTC),
            updated_at=parse_vault_time(body.get("updated_time")) or datetime.now(UTC),
            versions=tuple(sorted(versions, key=lambda v: v.version)),
            custom=dict(body.get("custom_metadata") or {}),
        )

    # -- writes -------------------------------------------------------------------------------

    async def write(self, path: str, data: Mapping[str, SecretValue], *, cas: int) -> VaultEntry:
        try:
            response = await self._call(
                self._client.secrets.kv.v2.create_or_update_secret,
                path=path,
                secret={name: value.reveal() for name, value in data.items()},
                cas=cas,
                mount_point=self._mount,
            )
        except hvac_errors.InvalidRequest as exc:
            if _CAS_MISMATCH in str(exc):
                raise VersionConflict(f"the secret changed since version {cas}; read it again and retry") from None
            raise VaultRefused("the secret store rejected the write") from None
        meta = response["data"]
        return VaultEntry(
            data=dict(data),
            version=int(meta["version"]),
            created_at=parse_vault_time(meta.get("created_time")) or datetime.now(UTC),
        )

    async def set_custom_metadata(self, path: str, custom: Mapping[str, str]) -> None:
        # Posting to metadata replaces custom_metadata whole, which is what callers pass in.
        try:
            await self._call(
                self._client.secrets.kv.v2.update_metadata,
                path=path,
                custom_metadata=dict(custom),
                mount_point=self._mount,
            )
        except hvac_errors.InvalidRequest:
            raise VaultRefused("the secret store rejected the metadata") from None

    async def soft_delete(self, path: str) -> None:
        try:
            await self._call(
                self._client.secrets.kv.v2.delete_latest_version_of_secret, path=path, mount_point=self._mount
            )
        except hvac_errors.InvalidPath:
            raise SecretNotFound("no secret is stored under this key") from None

    async def undelete(self, path: str, version: int) -> None:
        try:
            await self._call(
                self._client.secrets.kv.v2.undelete_secret_versions,
                path=path,
                versions=[version],
                mount_point=self._mount,
            )
        except hvac_errors.InvalidPath:
            raise SecretNotFound("no secret is stored under this key") from None
        except hvac_errors.InvalidRequest:
            raise VaultRefused("the secret store rejected the undelete") from None

    async def destroy(self, path: str) -> None:
        try:
            await self._call(
                self._client.secrets.kv.v2.delete_metadata_and_all_versions, path=path, mount_point=self._mount
            )
        except hvac_errors.InvalidPath:
            return  # already gone: destroying is idempotent
        except hvac_errors.InvalidRequest:
            raise VaultRefused("the secret store rejected the destroy") from None

    # -- health -------------------------------------------------------------------------------

    async def health(self) -> VaultHealth:
        try:
            status = await self._call(self._client.sys.read_health_status, method="GET")
        except VaultUnavailable:
            return VaultHealth(reachable=False)
        # hvac hands back the raw Response for the non-200 health codes (sealed, standby, ...).
        body = status.json() if isinstance(status, requests.Response) else status
        return VaultHealth(
            reachable=True,
            initialized=bool(body.get("initialized")),
            sealed=bool(body.get("sealed", True)),
            version=body.get("version"),
        )
