"""Keeping the service's own Vault token alive under AppRole.

`VaultTokenKeeper` logs in with AppRole (a plain secret id, or a response-wrapped one that it
unwraps once through `sys/wrapping/unwrap`), renews the token with `auth/token/renew-self` when
`renew_before_fraction` of its TTL is left, and logs in again when a renewal is refused, when
Vault caps the renewal because the token reaches its max TTL, or when the token was revoked.
It writes each new token into the shared `hvac.Client` (`client.token = ...`): `HvacSecretVault`
holds the same client object, so nothing else needs to know.

`TokenKeepingVault` is the `SecretVault` decorator that ties requests to the keeper: it calls
`ensure_valid()` before each operation (cheap: a clock comparison) and, when Vault says 403, asks
the keeper whether the token is dead (lookup-self); if it was, the keeper logs in again and the
operation is made once more, so a revoked token costs no failed request.

Token-auth mode (a plain VAULT_TOKEN) does not use any of this.

All hvac calls are blocking; they run in the default thread pool, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import hvac
import hvac.exceptions as hvac_errors
import requests

from domain.errors import VaultRefused, VaultUnavailable
from domain.ports import SecretVault, VaultHealth
from domain.secrets import VaultEntry, VaultMetadata
from domain.values import SecretValue

log = logging.getLogger("mirage.vault.token")

T = TypeVar("T")

Action = Literal["renew", "login"]

# Vault could not be asked (as opposed to: Vault answered no).
_UNREACHABLE = (requests.ConnectionError, requests.Timeout, hvac_errors.VaultDown, hvac_errors.BadGateway)


class TokenLoginFailed(VaultRefused):
    """Vault refused the AppRole credentials (wrong/expired secret id, wrapping token used up)."""


@dataclass(frozen=True, slots=True)
class TokenKeeperStats:
    logged_in: bool
    logins: int  # every successful login, the first included
    relogins: int  # logins after the first
    renewals: int  # successful renew-self calls
    renew_failures: int
    login_failures: int
    relogin_reasons: Mapping[str, int]
    ttl: float  # the TTL granted at the last login
    expires_in: float  # seconds until the current token expires, as far as we know


class VaultTokenKeeper:
    """Logs in with AppRole and keeps `client.token` valid.

    `client` is the hvac client the rest of the adapter uses; only its `.token` is changed.
    `login_client_factory` builds a token-less client for the unwrap and login calls (so a dead
    token is never sent along with a login); by default one is built from `client`'s URL.
    Exactly one of `secret_id` and `wrapped_secret_id_token` is required. The unwrapped secret id
    is kept in memory for later logins, so its role needs secret ids that outlive one token
    (`secret_id_num_uses=0`, a `secret_id_ttl` longer than the process is expected to run, or a
    fresh wrapped secret id delivered at each restart).
    """

    def __init__(
        self,
        client: hvac.Client,
        *,
        role_id: str,
        secret_id: str | None = None,
        wrapped_secret_id_token: str | None = None,
        login_client_factory: Callable[[], hvac.Client] | None = None,
        mount_point: str = "approle",
        renew_before_fraction: float = 0.2,
        retry_delay: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (secret_id is None) == (wrapped_secret_id_token is None):
            raise ValueError("give exactly one of secret_id and wrapped_secret_id_token")
        if not 0 < renew_before_fraction < 1:
            raise ValueError("renew_before_fraction must be between 0 and 1")
        self._client = client
        self._role_id = role_id
        self._secret_id = secret_id
        self._wrapped = wrapped_secret_id_token
        self._login_client_factory = login_client_factory or (lambda: _token_less_copy(client))
        self._mount_point = mount_point
        self._fraction = renew_before_fraction
        self._retry_delay = retry_delay
        self._clock = clock

        self._lock = asyncio.Lock()  # single flight for login/renew; never held on the fast path
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

        self._logged_in = False
        self._generation = 0  # +1 at every new token
        self._granted_ttl = 0.0  # the lease of the last login: the token's TTL
        self._lease = 0.0  # usable seconds of the current lease
        self._expires_at = 0.0
        self._next_at = 0.0
        self._next_action: Action = "login"
        self._next_reason = "start"

        self.logins = 0
        self.renewals = 0
        self.renew_failures = 0
        self.login_failures = 0
        self.relogin_reasons: Counter[str] = Counter()

    # -- reading ------------------------------------------------------------------------------

    @property
    def client(self) -> hvac.Client:
        return self._client

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def relogins(self) -> int:
        return max(0, self.logins - 1)

    def stats(self) -> TokenKeeperStats:
        return TokenKeeperStats(
            logged_in=self._logged_in,
            logins=self.logins,
            relogins=self.relogins,
            renewals=self.renewals,
            renew_failures=self.renew_failures,
            login_failures=self.login_failures,
            relogin_reasons=dict(self.relogin_reasons),
            ttl=self._granted_ttl,
            expires_in=max(0.0, self._expires_at - self._clock()) if self._logged_in else 0.0,
        )

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self, *, require_login: bool = True) -> None:
        """Log in and start the background renewal task.

        With `require_login=False` an unreachable Vault does not stop the start: the task keeps
        trying to log in (every `retry_delay`), and so does every request through `ensure_valid`.
        Refused credentials (`TokenLoginFailed`) always raise: no retry can fix them.
        """
        try:
            await self.ensure_valid()
        except VaultUnavailable:
            if require_login:
                raise
            log.warning("vault unreachable at start; AppRole login will be retried in the background")
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="vault-token-keeper")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def ensure_valid(self) -> None:
        """Return at once while the token has time left; otherwise renew or log in first.

        If Vault cannot be reached for that but the current token has not expired, the request
        goes ahead with it: it gets its own verdict, and the keeper tries again soon.
        """
        if self._fresh():
            return
        async with self._lock:
            if self._fresh():
                return  # somebody else refreshed it while we waited
            try:
                if not self._logged_in:
                    await self._login("start" if not self.logins else self._next_reason)
                elif self._clock() >= self._expires_at:
                    await self._login("expired")
                else:
                    await self._refresh_locked()
            except (VaultUnavailable, TokenLoginFailed):
                if self._logged_in and self._clock() < self._expires_at:
                    return  # the current token still works; the background task keeps trying
                raise

    async def recover(self, generation: int) -> bool:
        """Vault refused a request made with token `generation`. True if a retry may now work.

        A newer token already in place: yes. Otherwise look the token up: if Vault does not know
        it any more (revoked, expired), log in again and say yes; if it is alive, the refusal was
        about permissions, and retrying would not help.
        """
        async with self._lock:
            if self._generation != generation:
                return True
            if await self._token_alive():
                return False
            await self._login("revoked")
            return True

    # -- internals ----------------------------------------------------------------------------

    def _fresh(self) -> bool:
        return self._logged_in and self._clock() < self._expires_at - self._lease * self._fraction / 2

    def _apply_lease(self, started: float, lease: float, *, renewable: bool, reason_if_login: str) -> None:
        """Record a lease Vault granted at `started` (our clock, taken before the request left).

        Vault reports leases in whole seconds, rounded: a "2" may be 1.5 s when the max TTL caps
        it. So the keeper counts on `lease - min(1, lease / 2)` seconds, and acts when
        `renew_before_fraction` of that is left.
        """
        if lease <= 0:  # a token that never expires (not what AppRole hands out, but be correct)
            self._lease, self._expires_at = float("inf"), float("inf")
            self._schedule("login", float("inf"), "ttl")
            return
        usable = lease - min(1.0, lease / 2)
        self._lease = usable
        self._expires_at = started + usable
        at = started + usable * (1 - self._fraction)
        if renewable:
            self._schedule("renew", at, "ttl")
        else:
            self._schedule("login", at, reason_if_login)

    async def _run(self) -> None:
        while True:
            delay = self._next_at - self._clock()
            if delay > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay if delay != float("inf") else None):
                        await self._wake.wait()
                continue  # re-read the schedule: it may have moved while we slept
            try:
                async with self._lock:
                    if self._next_at <= self._clock():
                        await self._refresh_locked()
            except (VaultUnavailable, VaultRefused) as exc:
                # Vault down or refusing: try again soon, but never past the token's end.
                remaining = self._expires_at - self._clock()
                pause = self._retry_delay if remaining <= 0 else min(self._retry_delay, max(remaining / 2, 0.05))
                self._schedule(self._next_action, self._clock() + pause, self._next_reason)
                log.warning("vault token upkeep failed (%s); next try in %.1fs", type(exc).__name__, pause)
            except Exception:  # a bug must not kill the keeper silently
                log.exception("vault token upkeep crashed; next try in %.1fs", self._retry_delay)
                self._schedule(self._next_action, self._clock() + self._retry_delay, self._next_reason)

    async def _refresh_locked(self) -> None:
        if not self._logged_in or self._next_action == "login":
            await self._login(self._next_reason)
            return
        await self._renew()

    def _schedule(self, action: Action, at: float, reason: str) -> None:
        self._next_action, self._next_at, self._next_reason = action, at, reason
        self._wake.set()

    async def _renew(self) -> None:
        started = self._clock()
        try:
            response = await asyncio.to_thread(self._client.auth.token.renew_self)
        except _UNREACHABLE as exc:
            self.renew_failures += 1
            raise VaultUnavailable("could not renew the Vault token") from exc
        except hvac_errors.VaultError as exc:
            # Vault answered no: revoked/expired (403), not renewable (400), or past its max TTL
            # (OpenBao says so with a 500). Whatever it is, this token is done: log in again.
            self.renew_failures += 1
            reason = "max_ttl" if "max ttl" in str(exc).lower() else "renew_refused"
            log.info("vault token renewal refused (%s, %s); logging in again", type(exc).__name__, reason)
            await self._login(reason)
            return
        auth = response.get("auth") or {}
        lease = float(auth.get("lease_duration") or 0)
        self.renewals += 1
        warnings = " ".join(response.get("warnings") or ()).lower()
        # Vault grants less than the token's TTL only when the max TTL caps it.
        capped = lease < self._granted_ttl or "max_ttl" in warnings or "capped" in warnings
        if lease <= 0:
            await self._login("max_ttl")
            return
        self._apply_lease(
            started, lease, renewable=bool(auth.get("renewable")) and not capped, reason_if_login="max_ttl"
        )

    async def _login(self, reason: str) -> None:
        started = self._clock()
        try:
            auth = await asyncio.to_thread(self._login_blocking)
        except (*_UNREACHABLE, hvac_errors.InternalServerError, hvac_errors.RateLimitExceeded) as exc:
            self.login_failures += 1
            raise VaultUnavailable("could not log in to Vault with AppRole") from exc
        except hvac_errors.VaultError as exc:
            self.login_failures += 1
            raise TokenLoginFailed(f"Vault refused the AppRole login ({type(exc).__name__})") from exc
        lease = float(auth.get("lease_duration") or 0)
        self._client.token = auth["client_token"]
        if self.logins:
            self.relogin_reasons[reason] += 1
        self.logins += 1
        self._generation += 1
        self._logged_in = True
        self._granted_ttl = lease
        self._apply_lease(started, lease, renewable=bool(auth.get("renewable")), reason_if_login="max_ttl")
        log.info("logged in to Vault with AppRole (%s); token ttl %.0fs", reason, lease)

    def _login_blocking(self) -> dict[str, Any]:
        client = self._login_client_factory()
        try:
            if self._secret_id is None:
                assert self._wrapped is not None
                client.token = self._wrapped
                try:
                    unwrapped = client.sys.unwrap()
                finally:
                    client.token = None
                self._secret_id = unwrapped["data"]["secret_id"]
                self._wrapped = None  # single use: it is spent now
            response = client.auth.approle.login(
                role_id=self._role_id, secret_id=self._secret_id, use_token=False, mount_point=self._mount_point
            )
            return response["auth"]
        finally:
            client.adapter.close()

    async def _token_alive(self) -> bool:
        try:
            await asyncio.to_thread(self._client.auth.token.lookup_self)
        except (hvac_errors.Forbidden, hvac_errors.Unauthorized):
            return False
        except _UNREACHABLE as exc:
            raise VaultUnavailable("could not check the Vault token") from exc
        return True


def _token_less_copy(client: hvac.Client) -> hvac.Client:
    kwargs = getattr(client.adapter, "_kwargs", {}) or {}
    return hvac.Client(
        url=client.url,
        namespace=getattr(client.adapter, "namespace", None),
        verify=kwargs.get("verify", True),
        cert=kwargs.get("cert"),
        timeout=kwargs.get("timeout", 30),
        proxies=kwargs.get("proxies"),
    )


class TokenKeepingVault:
    """`SecretVault` decorator for AppRole mode: a valid token before, a re-login on revocation.

    Put it *inside* ResilientSecretVault, so a login that cannot reach Vault counts as a
    transient failure for the breaker:
    ResilientSecretVault(TokenKeepingVault(HvacSecretVault(client, ...), keeper), breaker=...).
    """

    def __init__(self, inner: SecretVault, keeper: VaultTokenKeeper) -> None:
        self._inner = inner
        self._keeper = keeper

    @property
    def inner(self) -> SecretVault:
        return self._inner

    @property
    def keeper(self) -> VaultTokenKeeper:
        return self._keeper

    async def close(self) -> None:
        await self._keeper.close()
        close = getattr(self._inner, "close", None)
        if close is not None:
            await close()

    async def _run(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        keeper = self._keeper
        await keeper.ensure_valid()
        generation = keeper.generation
        try:
            return await fn(*args, **kwargs)
        except VaultRefused:
            if not await keeper.recover(generation):
                raise
        return await fn(*args, **kwargs)  # a 403 means nothing was applied: safe to repeat once

    async def read(self, path: str, version: int | None = None) -> VaultEntry:
        return await self._run(self._inner.read, path, version)

    async def read_metadata(self, path: str) -> VaultMetadata | None:
        return await self._run(self._inner.read_metadata, path)

    async def write(self, path: str, data: Mapping[str, SecretValue], *, cas: int) -> VaultEntry:
        return await self._run(self._inner.write, path, data, cas=cas)

    async def set_custom_metadata(self, path: str, custom: Mapping[str, str]) -> None:
        await self._run(self._inner.set_custom_metadata, path, custom)

    async def soft_delete(self, path: str) -> None:
        await self._run(self._inner.soft_delete, path)

    async def undelete(self, path: str, version: int) -> None:
        await self._run(self._inner.undelete, path, version)

    async def destroy(self, path: str) -> None:
        await self._run(self._inner.destroy, path)

    async def health(self) -> VaultHealth:
        return await self._inner.health()  # unauthenticated endpoint: no token needed
