"""Building an authenticated hvac client from settings."""

from __future__ import annotations

from collections.abc import Sequence

import hvac
import requests
from requests.adapters import HTTPAdapter

from adapters.vault.address_pool import FailoverSession, shared_pool
from domain.errors import VaultUnavailable

# Calls run in a thread pool of this size (HvacSecretVault); the HTTP pool must hold as many
# connections, or requests discards and reopens them under load.
VAULT_CONCURRENCY = 16


def pooled_session(addresses: Sequence[str] | None = None) -> requests.Session:
    """One connection pool; with several addresses, one that follows the cluster's active node."""
    if addresses is not None and len(addresses) > 1:
        return FailoverSession(shared_pool(addresses), pool_maxsize=VAULT_CONCURRENCY)
    session = requests.Session()
    pooled = HTTPAdapter(pool_connections=1, pool_maxsize=VAULT_CONCURRENCY)
    session.mount("http://", pooled)
    session.mount("https://", pooled)
    return session


def build_client(
    *,
    addr: str,
    token: str | None,
    role_id: str | None = None,
    secret_id: str | None = None,
    namespace: str | None = None,
    verify: bool = True,
    timeout: float = 5.0,
    addresses: Sequence[str] | None = None,
) -> hvac.Client:
    """A client logged in with a token, or through AppRole when a role id is given.

    With `addresses` (every node of a cluster, `addr` first) requests follow the active node."""
    client = hvac.Client(
        url=addr,
        token=token,
        namespace=namespace or None,
        verify=verify,
        timeout=timeout,
        session=pooled_session(addresses),
    )
    if role_id:
        try:
            client.auth.approle.login(role_id=role_id, secret_id=secret_id)
        except Exception as exc:  # hvac raises both its own and requests' errors here
            raise VaultUnavailable("could not log in to Vault with AppRole") from exc
    return client
