"""`VaultSessions`: which Vault identity runs a principal's operations.

`SharedVaultSessions` is the simple mode: one service token for everyone, isolation enforced by
the service's path building alone. `JwtVaultSessions` logs in to Vault's JWT auth method with the
principal's own bearer token, so a templated ACL policy in Vault refuses any path that is not the
user's, whatever the service builds. Per-user Vault tokens live only in this process's memory.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import hvac
import hvac.exceptions as hvac_errors
import requests

from adapters.vault.client import pooled_session
from adapters.vault.hvac_vault import HvacSecretVault, new_vault_executor
from domain.errors import NotAuthenticated, VaultRefused, VaultUnavailable
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
        session: requests.Session | None = None,
        wrap: Callable[[SecretVault], SecretVault] = lambda vault: vault,
        clock=time.monotonic,
    ) -> None:
        self._addr = addr
        self._mount = mount
        self._auth_path = auth_path
        self._namespace = namespace
        self._verify = verify
        self._timeout = timeout
        self._http = session or pooled_session()  # one connection pool for every user's client
        self._pool = new_vault_executor()
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

    async def _login(self, principal: Principal) -> _Session:
        credential = principal.credential
        if credential is None:
            raise NotAuthenticated("per-user Vault access needs the caller's bearer token")
        client = hvac.Client(
            url=self._addr, namespace=self._namespace, verify=self._verify, timeout=self._timeout, session=self._http
        )
        role = ADMIN_ROLE if principal.is_admin else USER_ROLE
        started = self._clock()
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(
                self._pool,
                lambda: client.auth.jwt.jwt_login(role=role, jwt=credential.reveal(), path=self._auth_path),
            )
        except (requests.ConnectionError, requests.Timeout):
            raise VaultUnavailable("the secret store did not answer") from None
        except (hvac_errors.VaultDown, hvac_errors.InternalServerError, hvac_errors.BadGateway):
            raise VaultUnavailable("the secret store is sealed or failing") from None
        except (hvac_errors.InvalidRequest, hvac_errors.Forbidden, hvac_errors.Unauthorized):
            # Vault checked the token itself and said no (expired, wrong issuer or audience, role).
            raise VaultRefused("the secret store refused this identity") from None
        self.stats.logins += 1
        self.stats.login_seconds += self._clock() - started
        lease = float(response["auth"]["lease_duration"] or 0) or 60.0
        renew_at = self._clock() + lease * (1 - _EXPIRY_MARGIN_FRACTION)
        vault = self._wrap(HvacSecretVault(client, mount=self._mount, executor=self._pool))
        return _Session(vault=vault, renew_at=renew_at)

    def _remember(self, key: tuple[str, bool], session: _Session) -> None:
        self._sessions[key] = session
        self._sessions.move_to_end(key)
        while len(self._sessions) > _MAX_SESSIONS:
            self._sessions.popitem(last=False)

    async def close(self) -> None:
        self._sessions.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()
