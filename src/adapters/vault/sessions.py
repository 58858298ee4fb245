"""`VaultSessions`: which Vault identity runs a principal's operations.

`SharedVaultSessions` is the simple mode: one service token for everyone, isolation enforced by
the service's path building alone. `JwtVaultSessions` logs in to Vault's JWT auth method with the
principal's own bearer token, so a templated ACL policy in Vault refuses any path that is not the
user's, whatever the service builds. Per-user Vault tokens live only in this process's memory.
Logins and every user's data calls share one pooled aiohttp session (the service's own, when
given), on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from adapters.vault.address_pool import VaultAddressPool
from adapters.vault.kv_http import KvHttpSecretVault, new_http_session
from domain.errors import NotAuthenticated
from domain.ports import SecretVault
from domain.values import Principal

USER_ROLE = "mirage-user"
ADMIN_ROLE = "mirage-admin"
# Renew this long before the Vault token's TTL ends, so no request carries an expiring token.
_EXPIRY_MARGIN_FRACTION = 0.1
_MAX_SESSIONS = 10_000


class SharedVaultSessions:
    def __init__(self, vault: SecretVault) -> None:
        self._vault = vault

    async def for_principal(self, principal: Principal) -> SecretVault:
        return self._vault


@dataclass
class _Session:
    vault: SecretVault
    renew_at: float


@dataclass
class SessionStats:
    logins: int = 0
    reuses: int = 0
    login_seconds: float = 0.0

    @property
    def reuse_ratio(self) -> float:
        total = self.logins + self.reuses
        return self.reuses / total if total else 0.0


class JwtVaultSessions:
    """Implements `VaultSessions` with one Vault token per user, from Vault's JWT auth method."""

    def __init__(
        self,
        *,
        addr: str,
        mount: str,
        auth_path: str = "jwt",
        namespace: str | None = None,
        verify: bool = True,
        timeout: float = 5.0,
        http: aiohttp.ClientSession | None = None,
        pool: VaultAddressPool | None = None,
        wrap: Callable[[SecretVault], SecretVault] = lambda vault: vault,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._addr = addr
        self._mount = mount
        self._auth_path = auth_path
        self._namespace = namespace
        self._verify = verify
        self._timeout = timeout
        # One connection pool for every user; made on first use (on the serving loop) if not given.
        self._http = http
        self._owns_http = http is None
        self._address_pool = pool  # several cluster nodes: follow the active one
        self._login_client: KvHttpSecretVault | None = None
        self._wrap = wrap  # e.g. retries and the circuit breaker shared by every user's vault
        self._clock = clock
        self._sessions: OrderedDict[tuple[str, bool], _Session] = OrderedDict()
        self._logins_in_flight: dict[tuple[str, bool], asyncio.Future[_Session]] = {}
        self.stats = SessionStats()

    async def for_principal(self, principal: Principal) -> SecretVault:
        # Keyed by the verified user, not by the bearer token: a user's next session token
        # (Clerk rotates them every minute) reuses the Vault token this user already holds.
        key = (principal.user_id, principal.is_admin)
        session = self._sessions.get(key)
        if session is not None and self._clock() < session.renew_at:
            self._sessions.move_to_end(key)
            self.stats.reuses += 1
            return session.vault
        in_flight = self._logins_in_flight.get(key)
        if in_flight is not None:  # a concurrent request is logging this user in already
            self.stats.reuses += 1
            return (await asyncio.shield(in_flight)).vault
        future: asyncio.Future[_Session] = asyncio.get_running_loop().create_future()
        self._logins_in_flight[key] = future
        try:
            session = await self._login(principal)
            future.set_result(session)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so an unawaited failure is not reported twice
            raise
        finally:
            del self._logins_in_flight[key]
        self._remember(key, session)
        return session.vault

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = new_http_session(verify=self._verify)
        return self._http

    def _user_vault(self, token: str | None) -> KvHttpSecretVault:
        return KvHttpSecretVault(
            addr=self._addr,
            mount=self._mount,
            token=lambda: token,
            session=self._session,
            namespace=self._namespace,
            timeout=self._timeout,
            pool=self._address_pool,
        )

    async def _login(self, principal: Principal) -> _Session:
        credential = principal.credential
        if credential is None:
            raise NotAuthenticated("per-user Vault access needs the caller's bearer token")
        if self._login_client is None:
            self._login_client = self._user_vault(None)
        role = ADMIN_ROLE if principal.is_admin else USER_ROLE
        started = self._clock()
        # Vault checks the bearer token itself; a "no" is VaultRefused, an outage VaultUnavailable.
        token, lease = await self._login_client.jwt_login(auth_path=self._auth_path, role=role, jwt=credential.reveal())
        self.stats.logins += 1
        self.stats.login_seconds += self._clock() - started
        lease = lease or 60.0
        renew_at = self._clock() + lease * (1 - _EXPIRY_MARGIN_FRACTION)
        return _Session(vault=self._wrap(self._user_vault(token)), renew_at=renew_at)

    def _remember(self, key: tuple[str, bool], session: _Session) -> None:
        self._sessions[key] = session
        self._sessions.move_to_end(key)
        while len(self._sessions) > _MAX_SESSIONS:
            self._sessions.popitem(last=False)

    async def close(self) -> None:
        self._sessions.clear()
        if self._owns_http and self._http is not None:
            await self._http.close()
            self._http = None
