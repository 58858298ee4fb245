"""The disaster drill, on real OpenBao processes: back up, lose the cluster, restore, read it all back.

init (3 shares, threshold 2) -> unseal from stdin -> bootstrap -> secrets with several versions for
several users through the served API -> `backup create` with the backup policy's token -> one more
write (only in the index: the backup must win) -> stop and wipe the cluster -> a new cluster at the
same address -> `backup restore` (forced snapshot, unsealed with the ORIGINAL shares, index
reconciled) -> every secret, every version and every list reads back identically through the API.
"""

from __future__ import annotations

import json
import shutil

import httpx
import pytest

from adapters.vault.raft_server import BaoServer, loopback_port_pair
from tests.support.cli import run_cli, service_env
from tests.support.raft_cluster import create_token
from tests.support.served import serve

pytestmark = pytest.mark.e2e

USERS = ("drill-ann", "drill-bob", "drill-cy")
KEYS = ("db-password", "api-key", "smtp")
VERSIONS = 3


def _snapshot_of_api(instance) -> dict:
    """Everything a user can see: lists, each secret's history and every version's value."""
    seen: dict = {}
    with httpx.Client(base_url=instance.url, timeout=15) as http:
        for user in USERS:
            headers = instance.headers(user)
            listing = http.get("/api/v1/secrets", headers=headers)
            assert listing.status_code == 200, listing.text
            keys = sorted(item["key"] for item in listing.json()["secrets"])
            per_key = {}
            for key in keys:
                history = http.get(f"/api/v1/secrets/{key}/versions", headers=headers).json()
                values = {}
                for version in history["versions"]:
                    answer = http.get(f"/api/v1/secrets/{key}/versions/{version['version']}", headers=headers)
                    values[version["version"]] = (answer.status_code, answer.json().get("value"))
                per_key[key] = {"current": history["current_version"], "values": values}
            seen[user] = {"keys": keys, "secrets": per_key}
    return seen


def test_backup_restore_drill(tmp_path, fresh_database, signing_keys):
    port = loopback_port_pair()
    node = BaoServer(tmp_path / "cluster-a", node_id="a", port=port).start()
    addr = node.addr
    try:
        # -- init and unseal as an operator does ----------------------------------------------
        init = run_cli({"VAULT_ADDR": addr}, "vault", "init", "--key-shares", "3", "--key-threshold", "2")
        assert init.returncode == 0, init.stderr
        shares = [line.split(": ", 1)[1] for line in init.stdout.splitlines() if line.startswith("Unseal share")]
        root = next(line.split(": ", 1)[1] for line in init.stdout.splitlines() if line.startswith("Root token"))
        assert len(shares) == 3
        sealed = run_cli({"VAULT_ADDR": addr}, "vault", "status")
        assert sealed.returncode == 1 and "sealed" in sealed.stdout
        unseal = run_cli({"VAULT_ADDR": addr}, "vault", "unseal", stdin="\n".join(shares[:2]) + "\n")
        assert unseal.returncode == 0, unseal.stdout + unseal.stderr
        status = run_cli({"VAULT_ADDR": addr, "VAULT_TOKEN": root}, "vault", "status")
        assert status.returncode == 0 and "unsealed, active" in status.stdout, status.stdout
        assert "peer a" in status.stdout and "leader voter" in status.stdout

        base = service_env(
            vault_addr=addr, vault_token=root, database_url=fresh_database, public_key_file=signing_keys[1]
        )
        boot = run_cli(base, "vault", "bootstrap")
        assert boot.returncode == 0, boot.stderr
        service_token = create_token(addr, root, ["mirage-service"], ttl="24h")
        backup_token = create_token(addr, root, ["backup-policy"], ttl="24h")
        env = {**base, "VAULT_TOKEN": service_token, "BACKUP_DIR": str(tmp_path / "backups")}

        # -- several users, several versions, one deleted -------------------------------------
        with (
            serve(
                vault_addr=addr,
                vault_token=service_token,
                database_url=fresh_database,
                signing_keys=signing_keys,
                log_dir=tmp_path,
            ) as instance,
            httpx.Client(base_url=instance.url, timeout=15) as http,
        ):
            for user in USERS:
                for key in KEYS:
                    for version in range(1, VERSIONS + 1):
                        answer = http.post(
                            "/api/v1/secrets",
                            headers=instance.headers(user),
                            json={"key": key, "value": f"{user}:{key}:v{version}", "tags": ["drill"]},
                        )
                        assert answer.status_code in (200, 201), answer.text
            gone = http.delete("/api/v1/secrets/smtp", headers=instance.headers(USERS[2]))
            assert gone.status_code == 200
            before = _snapshot_of_api(instance)

            # -- backups never run as root ----------------------------------------------------
            as_root = run_cli({**env, "BACKUP_VAULT_TOKEN": root}, "backup", "create")
            assert as_root.returncode == 1 and "never a root token" in as_root.stderr
            created = run_cli(
                {**env, "BACKUP_VAULT_TOKEN": backup_token, "BACKUP_METRICS_FILE": str(tmp_path / "backup.prom")},
                "backup",
                "create",
            )
            assert created.returncode == 0, created.stderr
            assert "snapshot:" in created.stderr and "done" in created.stderr  # progress shown
            backup_dir = next((tmp_path / "backups").iterdir())
            manifest = json.loads((backup_dir / "manifest.json").read_text())
            secrets = len(USERS) * len(KEYS)
            assert manifest["inventory"]["secrets"] == secrets
            assert manifest["inventory"]["versions"] == secrets * VERSIONS  # a soft delete adds no version
            assert manifest["inventory"]["per_user"] == {user: len(KEYS) for user in USERS}
            assert manifest["seal"] == {"key_shares": 3, "key_threshold": 2}
            assert manifest["database"] == "postgresql" and (backup_dir / "database.dump").stat().st_size > 0
            assert "mirage_backup_last_success_timestamp_seconds" in (tmp_path / "backup.prom").read_text()
            listed = run_cli(env, "backup", "list")
            assert backup_dir.name in listed.stdout and f"{secrets} secrets" in listed.stdout

            # Written after the backup: only the index keeps it once Vault is restored.
            late = http.post(
                "/api/v1/secrets", headers=instance.headers(USERS[0]), json={"key": "after-backup", "value": "x"}
            )
            assert late.status_code in (200, 201)

        # -- lose the cluster -----------------------------------------------------------------
        node.kill()
        shutil.rmtree(tmp_path / "cluster-a")
        node = BaoServer(tmp_path / "cluster-b", node_id="b", port=port).start()

        restored = run_cli(env, "backup", "restore", str(backup_dir), stdin="\n".join(shares[1:]) + "\n")
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "unsealed with the original shares" in restored.stdout
        assert "1 were marked deleted: drill-ann/after-backup" in restored.stdout, restored.stdout

        with serve(
            vault_addr=addr,
            vault_token=service_token,  # tokens in the snapshot work again
            database_url=fresh_database,
            signing_keys=signing_keys,
            log_dir=tmp_path,
        ) as instance:
            after = _snapshot_of_api(instance)
        assert after == before
        counted = sum(len(s["values"]) for user in after.values() for s in user["secrets"].values())
        print(f"drill: {len(USERS)} users, {secrets} secrets, {counted} versions read back identically")
    finally:
        node.stop()
