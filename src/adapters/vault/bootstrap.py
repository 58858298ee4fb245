"""Idempotent setup of the KV v2 mount the service relies on."""

from __future__ import annotations

import time

import hvac
import hvac.exceptions as hvac_errors
import requests

MAX_VERSIONS = 10


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
