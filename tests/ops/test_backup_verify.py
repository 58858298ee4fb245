"""`backup verify` calls a backup good only after restoring it; `restore-secret` brings one secret back.

One real single-node OpenBao (3 shares, threshold 2) with a served instance in front; one backup
taken with the backup policy's token; each test works on its own copy of that backup.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from adapters.vault.raft_server import BaoServer
from tests.support.cli import run_cli, service_env
from tests.support.raft_cluster import create_token
from tests.support.served import serve

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, pg_admin_url, signing_keys):
    from adapters.db.migrate import upgrade
    from tests.support.postgres import create_test_database, drop_test_database

    directory = tmp_path_factory.mktemp("verify")
    database = create_test_database(pg_admin_url)
    upgrade(database)
    node = BaoServer(directory / "vault", node_id="v").start()
    try:
        init = run_cli({"VAULT_ADDR": node.addr}, "vault", "init", "--key-shares", "3", "--key-threshold", "2")
        shares = [line.split(": ", 1)[1] for line in init.stdout.splitlines() if line.startswith("Unseal share")]
        root = next(line.split(": ", 1)[1] for line in init.stdout.splitlines() if line.startswith("Root token"))
        assert run_cli({"VAULT_ADDR": node.addr}, "vault", "unseal", stdin="\n".join(shares[:2])).returncode == 0
        env = service_env(
            vault_addr=node.addr, vault_token=root, database_url=database, public_key_file=signing_keys[1]
        )
        assert run_cli(env, "vault", "bootstrap").returncode == 0
        service_token = create_token(node.addr, root, ["mirage-service"], ttl="24h")
        env = {
            **env,
            "VAULT_TOKEN": service_token,
            "BACKUP_VAULT_TOKEN": create_token(node.addr, root, ["backup-policy"], ttl="24h"),
            "BACKUP_DIR": str(directory / "backups"),
        }
        with serve(
            vault_addr=node.addr,
            vault_token=service_token,
            database_url=database,
            signing_keys=signing_keys,
            log_dir=directory,
        ) as instance:
            with httpx.Client(base_url=instance.url, timeout=15) as http:
                for user, key, count in (("alice", "k1", 3), ("alice", "k2", 2), ("bob", "k1", 1)):
                    for n in range(1, count + 1):
                        answer = http.post(
                            "/api/v1/secrets",
                            headers=instance.headers(user),
                            json={"key": key, "value": f"{user}-{key}-{n}"},
                        )
                        assert answer.status_code in (200, 201), answer.text
            created = run_cli(env, "backup", "create")
            assert created.returncode == 0, created.stderr
            backup = next((directory / "backups").iterdir())
            yield {"env": env, "backup": backup, "shares": shares, "instance": instance, "dir": directory}
    finally:
        node.stop()
        drop_test_database(pg_admin_url, database)


def _copy(deployment, tmp_path):
    copy = tmp_path / deployment["backup"].name
    shutil.copytree(deployment["backup"], copy)
    return copy


def _verify(deployment, backup, shares=None):
    shares = deployment["shares"][:2] if shares is None else shares
    return run_cli(deployment["env"], "backup", "verify", str(backup), stdin="\n".join(shares) + "\n")


def test_a_good_backup_verifies_by_restoring_it(deployment):
    result = _verify(deployment, deployment["backup"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is good" in result.stdout
    assert "3 secrets, 6 versions (2 users)" in result.stdout


def test_a_corrupted_snapshot_fails_verify(deployment, tmp_path):
    backup = _copy(deployment, tmp_path)
    snapshot = backup / "vault.snap"
    data = bytearray(snapshot.read_bytes())
    data[len(data) // 2] ^= 0xFF
    snapshot.write_bytes(bytes(data))
    result = _verify(deployment, backup)
    assert result.returncode == 1
    assert "SHA-256 differs from the manifest" in result.stderr


def test_a_truncated_snapshot_fails_verify(deployment, tmp_path):
    backup = _copy(deployment, tmp_path)
    snapshot = backup / "vault.snap"
    snapshot.write_bytes(snapshot.read_bytes()[: snapshot.stat().st_size // 2])
    result = _verify(deployment, backup)
    assert result.returncode == 1
    assert "truncated" in result.stderr


def test_a_truncated_snapshot_with_a_forged_manifest_fails_at_the_restore(deployment, tmp_path):
    """Checksums only prove the file is what the manifest says; the restore proves it is a snapshot."""
    import hashlib

    backup = _copy(deployment, tmp_path)
    snapshot = backup / "vault.snap"
    snapshot.write_bytes(snapshot.read_bytes()[: snapshot.stat().st_size // 2])
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["files"]["vault.snap"] = {
        "sha256": hashlib.sha256(snapshot.read_bytes()).hexdigest(),
        "bytes": snapshot.stat().st_size,
    }
    (backup / "manifest.json").write_text(json.dumps(manifest))
    result = _verify(deployment, backup)
    assert result.returncode == 1
    assert "NOT good" in result.stdout or "rejected the snapshot" in result.stderr + result.stdout


def test_a_manifest_whose_counts_disagree_fails_verify(deployment, tmp_path):
    backup = _copy(deployment, tmp_path)
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["inventory"]["secrets"] += 1
    manifest["inventory"]["per_user"]["carol"] = 1
    (backup / "manifest.json").write_text(json.dumps(manifest))
    result = _verify(deployment, backup)
    assert result.returncode == 1
    assert "secrets: expected 4, found 3" in result.stdout and "user carol" in result.stdout


def test_verify_without_enough_original_shares_is_refused(deployment):
    result = _verify(deployment, deployment["backup"], shares=deployment["shares"][:1])
    assert result.returncode == 1
    assert "needs 2 of the original 3 unseal shares, 1 given" in result.stderr


def test_restore_secret_brings_back_one_secret_and_touches_no_other(deployment):
    instance, env = deployment["instance"], deployment["env"]
    with (
        serve(
            vault_addr=env["VAULT_ADDR"],
            vault_token=env["VAULT_TOKEN"],
            database_url=env["DATABASE_URL"],
            signing_keys=(instance.private_key_file, Path(env["AUTH_PUBLIC_KEY_FILE"])),
            log_dir=deployment["dir"],
        ) as live,
        httpx.Client(base_url=live.url, timeout=15) as http,
    ):
        alice, bob = live.headers("alice"), live.headers("bob")
        # After the backup: alice/k1 overwritten, bob/k1 changed.
        assert http.post("/api/v1/secrets", headers=alice, json={"key": "k1", "value": "oops"}).json()["version"] == 4
        assert http.post("/api/v1/secrets", headers=bob, json={"key": "k1", "value": "bob-new"}).json()["version"] == 2
        assert http.get("/api/v1/secrets/k1", headers=alice).json()["value"] == "oops"  # cached now
        before_k2 = http.get("/api/v1/secrets/k2/versions", headers=alice).json()

        result = run_cli(
            env,
            "backup",
            "restore-secret",
            str(deployment["backup"]),
            "--user",
            "alice",
            "--key",
            "k1",
            stdin="\n".join(deployment["shares"][1:]) + "\n",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "restored 3 versions of alice/k1" in result.stdout and "new versions 5, 6, 7" in result.stdout

        history = http.get("/api/v1/secrets/k1/versions", headers=alice).json()
        assert history["current_version"] == 7
        values = {n: http.get(f"/api/v1/secrets/k1/versions/{n}", headers=alice).json()["value"] for n in range(1, 8)}
        assert values == {
            1: "alice-k1-1",
            2: "alice-k1-2",
            3: "alice-k1-3",
            4: "oops",
            5: "alice-k1-1",
            6: "alice-k1-2",
            7: "alice-k1-3",
        }
        assert http.get("/api/v1/secrets/k1", headers=alice).json()["value"] == "alice-k1-3"  # cache invalidated
        # On the user's audit trail: one rollback per restored version, by the operator, no value.
        trail = http.get("/api/v1/secrets/audit", headers=alice, params={"secret_key": "k1", "action": "rollback"})
        events = trail.json()["logs"]
        assert sorted(e["version"] for e in events) == [5, 6, 7] and {e["actor"] for e in events} == {"system"}
        assert "alice-k1" not in trail.text
        # Nobody else's secret moved.
        bob_now = http.get("/api/v1/secrets/k1", headers=bob).json()
        assert (bob_now["version"], bob_now["value"]) == (2, "bob-new")
        assert http.get("/api/v1/secrets/k2/versions", headers=alice).json() == before_k2


def test_schedule_takes_backups_and_prunes_by_retention(deployment, tmp_path):
    """Two runs one second apart on the same day: daily retention keeps only the newer one."""
    env = {**deployment["env"], "BACKUP_DIR": str(tmp_path / "scheduled")}
    result = run_cli(env, "backup", "schedule", "--count", "2", "--interval", "1", "--no-database")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("backup ") >= 2 and result.stdout.count("  3 secrets, ") == 2
    listed = run_cli(env, "backup", "list")
    assert len([line for line in listed.stdout.splitlines() if line.startswith("mirage-")]) == 1


def test_index_reconcile_adds_back_a_row_the_index_lost(deployment):
    env = deployment["env"]
    database = env["DATABASE_URL"].rsplit("/", 1)[1]
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-qc"]
    lost = subprocess.run([*psql, "DELETE FROM secret_index WHERE user_id = 'bob' AND key = 'k1'"], capture_output=True)
    assert lost.returncode == 0, lost.stderr
    dry = run_cli(env, "index", "reconcile", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing changed" in dry.stdout and "1 would be added: bob/k1" in dry.stdout
    done = run_cli(env, "index", "reconcile")
    assert "1 were added: bob/k1" in done.stdout, done.stdout + done.stderr
    again = run_cli(env, "index", "reconcile")
    assert "0 were added" in again.stdout and "0 were updated" in again.stdout, again.stdout
    with httpx.Client(base_url=deployment["instance"].url, timeout=15) as http:
        listed = http.get("/api/v1/secrets", headers=deployment["instance"].headers("bob")).json()["secrets"]
    assert [item["key"] for item in listed] == ["k1"]
