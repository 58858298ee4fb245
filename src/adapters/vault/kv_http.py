"""`SecretVault` on Vault / OpenBao KV v2 over one pooled aiohttp `ClientSession`, on the event loop.

The data path (read, check-and-set write, metadata, soft delete, health) is a handful of plain
HTTP calls; making them here instead of through hvac removes the thread-pool hop and the
synchronous `requests` pool, and under concurrency aiohttp's pool is 2.5-3.5x faster than
httpx's on this machine (../shared/design/PERFORMANCE.md). hvac stays for bootstrap, AppRole
logins and administration.

Translation of Vault's answers follows `HvacSecretVault` exactly (hvac maps statuses the same
way): connection errors, timeouts, 5xx, 429 and sealed/uninitialised -> `VaultUnavailable`;
401/403 -> `VaultRefused`; 404 and 400 mean what the operation says they mean. No aiohttp
exception crosses the port.

Failures that prove Vault did not act on the request (the connection never opened, 503 sealed or
standby, 429, 501) carry a `VaultDidNotAct` as their `__cause__`, which is what
`ResilientSecretVault` checks before it retries a non-idempotent write.

With several cluster addresses (`pool`, shared with the hvac clients), a request goes to the node
believed active; when that node refuses the connection or answers that it is sealed or not the
active one (Vault did not act), the next node is tried once within the same call, and the pool
remembers which one answered. Time is bounded by the caller's budget (`ResilientSecretVault`).

A read returns the version's `custom_metadata` (KV v2 puts it in every data read), so a caller
that needs the custom metadata of the newest version needs no second call.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp

from adapters.vault.address_pool import VaultAddressPool, is_failover_answer
from adapters.vault.hvac_vault import parse_vault_time
from domain.errors import (
    SecretNotFound,
    VaultRefused,
    VaultUnavailable,
    VersionConflict,
    VersionGone,
)
from domain.ports import VaultHealth
from domain.secrets import VaultEntry, VaultMetadata, VersionInfo, missing_version_error
from domain.values import SecretValue

_CAS_MISMATCH = "check-and-set parameter did not match"
# Enough connections for every request a worker has in flight; beyond it requests queue in the pool.
POOL_SIZE = 64


class VaultDidNotAct(Exception):
    """The cause of a `VaultUnavailable` that proves the request had no effect in Vault."""


class VaultStatus(Exception):
    """An HTTP status from Vault the operation has to interpret (kept as a cause, never raised out)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"Vault answered {status}")
        self.status = status
        self.body = body

    @property
    def messages(self) -> str:
        errors = self.body.get("errors") if isinstance(self.body, dict) else None
        return " ".join(str(e) for e in errors or ())


def new_http_session(*, verify: bool = True, pool_size: int = POOL_SIZE) -> aiohttp.ClientSession:
    """The one client session a process uses for every Vault call (service and per-user tokens).

    Must be created on the serving event loop. No session-wide timeout: each call gets its own,
    cut to what is left of the request's budget (`ResilientSecretVault`).
    """
    connector = aiohttp.TCPConnector(
        limit=pool_size,
        limit_per_host=pool_size,
        ssl=verify,  # True: the default certificate checks; False: none (VAULT_SKIP_VERIFY)
        ttl_dns_cache=300,
        keepalive_timeout=30,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None),
        auto_decompress=True,
        trust_env=False,
        raise_for_status=False,
    )


class KvHttpSecretVault:
    """Implements `domain.ports.SecretVault` on one KV v2 mount.

    `token` is called before each request: AppRole's `VaultTokenKeeper` swaps the hvac client's
    token in place, and the service passes `lambda: client.token`, so a renewed or re-issued token
    is used from the next call on without anything else knowing.
    """

    def __init__(
        self,
        *,
        addr: str,
        mount: str,
        token: Callable[[], str | None],
        session: Callable[[], aiohttp.ClientSession] | aiohttp.ClientSession,
        namespace: str | None = None,
        timeout: float = 5.0,
        owns_session: bool = False,
        pool: VaultAddressPool | None = None,
    ) -> None:
        self._base = addr.rstrip("/")
        self._pool = pool
        # Paths only: the address is chosen per request (the active node of a cluster).
        self._data_url = f"/v1/{mount}/data/"
        self._metadata_url = f"/v1/{mount}/metadata/"
        self._undelete_url = f"/v1/{mount}/undelete/"
        self._health_url = "/v1/sys/health"
        self._token = token
        self._session = session
        self._namespace = namespace or None
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 5.0))
        self._owns_session = owns_session

    @property
    def session(self) -> aiohttp.ClientSession:
        session = self._session
        return session() if callable(session) and not isinstance(session, aiohttp.ClientSession) else session

    async def close(self) -> None:
        if self._owns_session:
            await self.session.close()

    def _headers(self) -> dict[str, str]:
        headers = {"X-Vault-Request": "true"}
        token = self._token()
        if token:
            headers["X-Vault-Token"] = token
        if self._namespace:
            headers["X-Vault-Namespace"] = self._namespace
        return headers

    def _anonymous_headers(self) -> dict[str, str]:
        headers = {"X-Vault-Request": "true"}
        if self._namespace:
            headers["X-Vault-Namespace"] = self._namespace
        return headers

    async def _call(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200, 204),
        authenticated: bool = True,
    ) -> Any:
        """One request. Returns the parsed JSON body (None for 204); raises domain errors or
        `VaultStatus` for 400/404, which only the operation can interpret."""
        headers = self._headers() if authenticated else self._anonymous_headers()
        pool = self._pool
        if pool is None:
            status, text = await self._send(self._base, method, url, json, params, headers)
        else:
            status, text = await self._send_following_the_active_node(pool, method, url, json, params, headers)
        try:
            body = jsonlib.loads(text) if text else None
        except ValueError as exc:  # a body that is not JSON
            raise VaultUnavailable("the secret store gave an unexpected answer") from exc
        if status in expect:
            return body
        if status in (501, 503):
            raise VaultUnavailable("the secret store is sealed or not initialised") from VaultDidNotAct(str(status))
        if status == 429:
            raise VaultUnavailable("the secret store is failing") from VaultDidNotAct(str(status))
        if status in (500, 502):
            raise VaultUnavailable("the secret store is failing") from VaultStatus(status, body)
        if status in (401, 403):
            raise VaultRefused("the secret store refused access to this path") from VaultStatus(status, body)
        if status in (400, 404):
            raise VaultStatus(status, body)
        raise VaultUnavailable("the secret store gave an unexpected answer") from VaultStatus(status, body)

    async def _send(
        self, addr: str, method: str, url: str, json: Any, params: Mapping[str, str] | None, headers: dict[str, str]
    ) -> tuple[int, str]:
        try:
            async with self.session.request(
                method, addr + url, json=json, params=params, headers=headers, timeout=self._timeout
            ) as response:
                return response.status, (await response.text() if response.status != 204 else "")
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # The connection never opened: nothing reached Vault.
            raise VaultUnavailable("the secret store did not answer") from VaultDidNotAct(type(exc).__name__)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise VaultUnavailable("the secret store did not answer") from exc

    async def _send_following_the_active_node(
        self,
        pool: VaultAddressPool,
        method: str,
        url: str,
        json: Any,
        params: Mapping[str, str] | None,
        headers: dict[str, str],
    ) -> tuple[int, str]:
        """Try the active node, then the others, in rounds (pausing between them) while no node is
        active, for up to the pool's `failover_seconds` - a Raft election takes a few seconds. Only
        answers that prove the node did not act move on; the caller's budget bounds it all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + pool.failover_seconds
        while True:
            failure: VaultUnavailable | None = None
            last: tuple[int, str] = (503, "")
            for addr in pool.candidates():
                try:
                    status, text = await self._send(addr, method, url, json, params, headers)
                except VaultUnavailable as exc:
                    if not isinstance(exc.__cause__, VaultDidNotAct):
                        raise  # the request may have reached the node: not re-sent
                    pool.mark_failed(addr)
                    failure = exc
                    continue
                if is_failover_answer(status, text):
                    pool.mark_failed(addr)  # sealed or standby: it did not act; ask the next node
                    failure = None
                    last = (status, text)
                    continue
                pool.mark_active(addr)
                return status, text
            if loop.time() + pool.pause_seconds >= deadline or len(pool.addresses) == 1:
                if failure is not None:
                    raise failure
                return last
            await asyncio.sleep(pool.pause_seconds)

    # -- reads --------------------------------------------------------------------------------

    async def read(self, path: str, version: int | None = None) -> VaultEntry:
        params = {"version": str(version)} if version is not None else None
        try:
            body = await self._call("GET", self._data_url + path, params=params, expect=(200,))
        except VaultStatus as answer:
            if answer.status == 400:
                raise VaultRefused("the secret store rejected the read") from None
            raise await self._explain_missing(path, version, answer.body) from None
        payload = body["data"]
        meta = payload.get("metadata") or {}
        if payload.get("data") is None:  # an older server answering 200 for a deleted version
            raise await self._explain_missing(path, version, body) from None
        return _entry(payload["data"], meta)

    async def _explain_missing(self, path: str, version: int | None, body: Any) -> Exception:
        meta = ((body or {}).get("data") or {}).get("metadata") if isinstance(body, dict) else None
        if version is None:
            return SecretNotFound("no secret is stored under this key")
        if meta and (meta.get("deletion_time") or meta.get("destroyed")):
            return VersionGone(f"version {version} was deleted; its value can no longer be read")
        # rare: which of "no secret" and "no version"?
        return missing_version_error(await self.read_metadata(path), version)

    async def read_metadata(self, path: str) -> VaultMetadata | None:
        try:
            body = await self._call("GET", self._metadata_url + path, expect=(200,))
        except VaultStatus as answer:
            if answer.status == 404:
                return None
            raise VaultRefused("the secret store rejected the metadata read") from None
        return _metadata(body["data"])

    # -- writes -------------------------------------------------------------------------------

    async def write(self, path: str, data: Mapping[str, SecretValue], *, cas: int) -> VaultEntry:
        request = {"options": {"cas": cas}, "data": {name: value.reveal() for name, value in data.items()}}
        try:
            body = await self._call("POST", self._data_url + path, json=request, expect=(200,))
        except VaultStatus as answer:
            if answer.status == 400 and _CAS_MISMATCH in answer.messages:
                raise VersionConflict(f"the secret changed since version {cas}; read it again and retry") from None
            raise VaultRefused("the secret store rejected the write") from None
        meta = body["data"]
        return VaultEntry(
            data=dict(data),
            version=int(meta["version"]),
            created_at=parse_vault_time(meta.get("created_time")) or datetime.now(UTC),
            custom=dict(meta.get("custom_metadata") or {}),
        )

    async def set_custom_metadata(self, path: str, custom: Mapping[str, str]) -> None:
        # Posting to metadata replaces custom_metadata whole, which is what callers pass in.
        try:
            await self._call("POST", self._metadata_url + path, json={"custom_metadata": dict(custom)})
        except VaultStatus:
            raise VaultRefused("the secret store rejected the metadata") from None

    async def soft_delete(self, path: str) -> None:
        try:
            await self._call("DELETE", self._data_url + path)
        except VaultStatus as answer:
            if answer.status == 404:
                raise SecretNotFound("no secret is stored under this key") from None
            raise VaultRefused("the secret store rejected the delete") from None

    async def undelete(self, path: str, version: int) -> None:
        try:
            await self._call("POST", self._undelete_url + path, json={"versions": [version]})
        except VaultStatus as answer:
            if answer.status == 404:
                raise SecretNotFound("no secret is stored under this key") from None
            raise VaultRefused("the secret store rejected the undelete") from None

    async def destroy(self, path: str) -> None:
        try:
            await self._call("DELETE", self._metadata_url + path)
        except VaultStatus as answer:
            if answer.status == 404:
                return  # already gone: destroying is idempotent
            raise VaultRefused("the secret store rejected the destroy") from None

    # -- login (per-user tokens) ----------------------------------------------------------------

    async def jwt_login(self, *, auth_path: str, role: str, jwt: str) -> tuple[str, float]:
        """Log in to Vault's JWT auth method: (client token, lease seconds). Sent without a token."""
        try:
            body = await self._call(
                "POST",
                f"/v1/auth/{auth_path}/login",
                json={"role": role, "jwt": jwt},
                expect=(200,),
                authenticated=False,
            )
        except VaultRefused:
            raise VaultRefused("the secret store refused this identity") from None
        except VaultStatus:  # 400: Vault checked the token itself and said no (expired, issuer, role)
            raise VaultRefused("the secret store refused this identity") from None
        auth = body["auth"]
        return auth["client_token"], float(auth.get("lease_duration") or 0)

    # -- health -------------------------------------------------------------------------------

    async def health(self) -> VaultHealth:
        try:
            # Every health code (200 active, 429 standby, 472/473 DR/perf standby, 501 not
            # initialised, 503 sealed) comes with the same JSON body.
            body = await self._call("GET", self._health_url, expect=(200, 429, 472, 473, 501, 503), authenticated=False)
        except (VaultUnavailable, VaultStatus):
            return VaultHealth(reachable=False)
        body = body or {}
        return VaultHealth(
            reachable=True,
            initialized=bool(body.get("initialized")),
            sealed=bool(body.get("sealed", True)),
            version=body.get("version"),
        )


def _entry(data: Mapping[str, Any], meta: Mapping[str, Any]) -> VaultEntry:
    return VaultEntry(
        data={name: SecretValue(str(value)) for name, value in data.items()},
        version=int(meta["version"]),
        created_at=parse_vault_time(meta.get("created_time")) or datetime.now(UTC),
        custom=dict(meta.get("custom_metadata") or {}),
    )


def _metadata(body: Mapping[str, Any]) -> VaultMetadata:
    versions = tuple(
        VersionInfo(
            version=int(number),
            created_at=parse_vault_time(raw.get("created_time")) or datetime.now(UTC),
            deleted_at=parse_vault_time(raw.get("deletion_time")),
            destroyed=bool(raw.get("destroyed")),
        )
        for number, raw in (body.get("versions") or {}).items()
    )
    return VaultMetadata(
        current_version=int(body.get("current_version", 0)),
        oldest_version=int(body.get("oldest_version", 0)),
        created_at=parse_vault_time(body.get("created_time")) or datetime.now(UTC),
        updated_at=parse_vault_time(body.get("updated_time")) or datetime.now(UTC),
        versions=tuple(sorted(versions, key=lambda v: v.version)),
        custom=dict(body.get("custom_metadata") or {}),
    )
