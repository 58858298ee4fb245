"""Idempotent setup of Vault for the service: the KV v2 mount, policies, JWT auth and AppRole.

Policies are HCL files under infra/vault/policies/ (shipped in the wheel as package data), with
`${mount}` and `${jwt_accessor}` filled in here: the templated user policy needs the accessor of
the JWT auth mount, which only exists once that mount does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from string import Template

import hvac
import hvac.exceptions as hvac_errors
import requests

from domain.secrets import VERSIONS_KEPT

MAX_VERSIONS = VERSIONS_KEPT


class BootstrapError(RuntimeError):
    pass


def ensure_kv_mount(client: hvac.Client, mount: str, *, wait_seconds: float = 15.0) -> str:
    """Mount KV v2 at `mount` with max_versions=10 and cas_required=true. Returns what it did."""
    try:
        return _ensure_kv_mount(client, mount, wait_seconds)
    except requests.RequestException as exc:
        raise BootstrapError(f"Vault at {client.url} did not answer ({type(exc).__name__})") from None
    except hvac_errors.VaultError as exc:
        raise BootstrapError(f"Vault at {client.url} refused the setup: {type(exc).__name__}") from None


def _ensure_kv_mount(client: hvac.Client, mount: str, wait_seconds: float) -> str:
    mounts = client.sys.list_mounted_secrets_engines()
    mounts = mounts.get("data", mounts)
    existing = mounts.get(f"{mount}/")
    action = "kept"
    if existing is None:
        client.sys.enable_secrets_engine(backend_type="kv", path=mount, options={"version": "2"})
        action = "mounted"
    elif existing.get("type") != "kv" or (existing.get("options") or {}).get("version") != "2":
        raise BootstrapError(f"'{mount}/' is already mounted and is not KV version 2; choose another VAULT_MOUNT")

    # A fresh KV v2 mount answers writes with an "upgrading" error for a moment: retry briefly.
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            client.secrets.kv.v2.configure(max_versions=MAX_VERSIONS, cas_required=True, mount_point=mount)
            return action
        except (hvac_errors.InvalidRequest, hvac_errors.InternalServerError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


USER_ROLE = "mirage-user"
ADMIN_ROLE = "mirage-admin"
BACKEND_ROLE = "mirage-backend"
TOKEN_TTL = "1h"
TOKEN_MAX_TTL = "24h"


@dataclass(frozen=True)
class JwtAuthSetup:
    """How Vault checks users' bearer tokens: the same issuer, audience and keys as the service."""

    issuer: str
    audience: str
    roles_claim: str = "roles"
    jwks_url: str | None = None
    public_key_pem: str | None = None
    path: str = "jwt"


def policy_dir() -> Path:
    packaged = Path(__file__).with_name("policies")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "infra" / "vault" / "policies"  # a source checkout


def render_policy(name: str, *, mount: str, jwt_accessor: str = "") -> str:
    text = (policy_dir() / f"{name}.hcl").read_text()
    return Template(text).substitute(mount=mount, jwt_accessor=jwt_accessor)


def bootstrap_vault(client: hvac.Client, mount: str, *, jwt: JwtAuthSetup | None, user_auth: str) -> list[str]:
    """Everything the service needs, idempotently. Returns one line per step, for the operator."""
    try:
        return _bootstrap(client, mount, jwt, user_auth)
    except requests.RequestException as exc:
        raise BootstrapError(f"Vault at {client.url} did not answer ({type(exc).__name__})") from None
    except hvac_errors.VaultError as exc:
        raise BootstrapError(f"Vault at {client.url} refused the setup: {type(exc).__name__}: {exc}") from None


def _bootstrap(client: hvac.Client, mount: str, jwt: JwtAuthSetup | None, user_auth: str) -> list[str]:
    done = [
        f"KV v2 mount '{mount}/' {_ensure_kv_mount(client, mount, 15.0)}: max_versions={MAX_VERSIONS}, cas_required=true"
    ]
    for name in ("mirage-service", "mirage-backend", "backup-policy"):
        client.sys.create_or_update_policy(name, render_policy(name, mount=mount))
    done.append("policies mirage-service, mirage-backend, backup-policy written")
    if jwt is not None:
        accessor = _ensure_auth_method(client, "jwt", jwt.path)
        client.auth.jwt.configure(
            jwks_url=jwt.jwks_url,
            jwt_validation_pubkeys=[jwt.public_key_pem] if jwt.public_key_pem else None,
            bound_issuer=jwt.issuer,
            jwt_supported_algs=["RS256", "ES256"],
            path=jwt.path,
        )
        for name in ("user-secrets-policy", "admin-policy"):
            client.sys.create_or_update_policy(name, render_policy(name, mount=mount, jwt_accessor=accessor))
        common = {
            "user_claim": "sub",
            "allowed_redirect_uris": [],
            "role_type": "jwt",
            "bound_audiences": [jwt.audience],
            "token_ttl": TOKEN_TTL,
            "token_max_ttl": TOKEN_MAX_TTL,
            "path": jwt.path,
        }
        client.auth.jwt.create_role(USER_ROLE, token_policies=["user-secrets-policy"], **common)
        # An admin is also a user with secrets of their own: the user policy reaches only their own
        # subtree (the more specific path wins there), the admin policy only metadata and revocation
        # elsewhere, so the union still reads no other user's value.
        client.auth.jwt.create_role(
            ADMIN_ROLE,
            token_policies=["admin-policy", "user-secrets-policy"],
            bound_claims={jwt.roles_claim: ["admin"]},
            **common,
        )
        done.append(f"JWT auth at '{jwt.path}/' for issuer {jwt.issuer}: roles {USER_ROLE}, {ADMIN_ROLE}")
    _ensure_auth_method(client, "approle", "approle")
    backend_policy = "mirage-backend" if user_auth == "jwt" else "mirage-service"
    client.auth.approle.create_or_update_approle(
        BACKEND_ROLE, token_policies=[backend_policy], token_ttl=TOKEN_TTL, token_max_ttl=TOKEN_MAX_TTL
    )
    done.append(f"AppRole {BACKEND_ROLE} (policy {backend_policy}, token TTL {TOKEN_TTL}, max {TOKEN_MAX_TTL})")
    return done


def _ensure_auth_method(client: hvac.Client, method: str, path: str) -> str:
    """Enable the auth method at `path` unless it is there; returns its accessor."""
    methods = client.sys.list_auth_methods()
    methods = methods.get("data", methods)
    existing = methods.get(f"{path}/")
    if existing is None:
        client.sys.enable_auth_method(method, path=path)
        existing = client.sys.list_auth_methods()["data"][f"{path}/"]
    elif existing.get("type") != method:
        raise BootstrapError(f"auth path '{path}/' is already a {existing.get('type')} method, not {method}")
    return existing["accessor"]
