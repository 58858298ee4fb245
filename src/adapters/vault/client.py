"""Building an authenticated hvac client from settings."""

from __future__ import annotations

import hvac

from domain.errors import VaultUnavailable


def build_client(
    *,
    addr: str,
    token: str | None,
    role_id: str | None = None,
    secret_id: str | None = None,
    namespace: str | None = None,
    verify: bool = True,
    timeout: float = 5.0,
) -> hvac.Client:
    """A client logged in with a token, or through AppRole when a role id is given."""
    client = hvac.Client(url=addr, token=token, namespace=namespace or None, verify=verify, timeout=timeout)
    if role_id:
        try:
            client.auth.approle.login(role_id=role_id, secret_id=secret_id)
        except Exception as exc:  # hvac raises both its own and requests' errors here
            raise VaultUnavailable("could not log in to Vault with AppRole") from exc
    return client
