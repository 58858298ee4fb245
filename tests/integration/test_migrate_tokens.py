"""`mirage-secrets migrate-tokens`, run as an operator would, against real OpenBao and PostgreSQL."""

from __future__ import annotations

import hvac
import pytest

from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER
from tests.support.cli import run

pytestmark = pytest.mark.integration


def _env(openbao, pg_url, signing_keys, railway, **extra):
    return {
        "VAULT_ADDR": openbao.addr,
        "VAULT_TOKEN": openbao.root_token,
        "DATABASE_URL": pg_url,
        "AUTH_PUBLIC_KEY_FILE": str(signing_keys[1]),
        "AUTH_ISSUER": DEV_ISSUER,
        "AUTH_AUDIENCE": DEV_AUDIENCE,
        "RAILWAY_API_URL": railway.endpoint,
        **extra,
    }


def _token_in_vault(openbao, user):
    client = hvac.Client(url=openbao.addr, token=openbao.root_token)
    try:
        return client.secrets.kv.v2.read_secret_version(
            path=f"users/{user}/railway", mount_point="mirage", raise_on_deleted_version=True
        )["data"]["data"]["token"]
    except hvac.exceptions.InvalidPath:
        return None
    finally:
        client.adapter.close()


def test_csv_migration_dry_run_then_real_then_rerun(openbao, pg_url, signing_keys, fake_railway, tmp_path):
    good_a, good_b = fake_railway.add_account_token(), fake_railway.add_project_token()
    users = [f"mig_{n}_{tmp_path.name[-8:]}" for n in ("a", "b", "c")]
    csv = tmp_path / "tokens.csv"
    csv.write_text(f"user,token\n{users[0]},{good_a}\n{users[1]},{good_b}\n{users[2]},not-a-railway-token\n")
    env = _env(openbao, pg_url, signing_keys, fake_railway)

    dry = run("migrate-tokens", "--csv", str(csv), "--dry-run", env=env)
    assert dry.returncode == 1  # one invalid token
    assert "dry run: nothing written" in dry.stdout and "would_migrate: 2" in dry.stdout and "invalid: 1" in dry.stdout
    assert "3/3" in dry.stderr  # the progress bar
    assert _token_in_vault(openbao, users[0]) is None
    for token in (good_a, good_b):
        assert token not in dry.stdout + dry.stderr

    real = run("migrate-tokens", "--csv", str(csv), env=env)
    assert "migrated: 2" in real.stdout and f"{users[2]}: invalid (Railway answered" in real.stdout, real.stdout
    assert _token_in_vault(openbao, users[0]) == good_a and _token_in_vault(openbao, users[1]) == good_b

    again = run("migrate-tokens", "--csv", str(csv), env=env)
    assert "already_migrated: 2" in again.stdout and "migrated: 2" not in again.stdout.replace("already_migrated", "")
    client = hvac.Client(url=openbao.addr, token=openbao.root_token)
    versions = client.secrets.kv.v2.read_secret_metadata(path=f"users/{users[0]}/railway", mount_point="mirage")
    assert versions["data"]["current_version"] == 1  # the re-run wrote nothing
    client.adapter.close()


def test_legacy_token_migration_keeps_users_own_tokens(openbao, pg_url, signing_keys, fake_railway, tmp_path):
    legacy, own = fake_railway.add_account_token(), fake_railway.add_account_token()
    fresh, has_own = f"leg_fresh_{tmp_path.name[-8:]}", f"leg_own_{tmp_path.name[-8:]}"
    env = _env(openbao, pg_url, signing_keys, fake_railway, RAILWAY_API_TOKEN=legacy)
    csv = tmp_path / "own.csv"
    csv.write_text(f"{has_own},{own}\n")
    assert run("migrate-tokens", "--csv", str(csv), env=env).returncode == 0

    result = run("migrate-tokens", "--user", fresh, "--user", has_own, env=env)
    assert result.returncode == 0, result.stderr
    assert "migrated: 1" in result.stdout and f"{has_own}: kept_own_token" in result.stdout
    assert _token_in_vault(openbao, fresh) == legacy and _token_in_vault(openbao, has_own) == own
    assert legacy not in result.stdout + result.stderr


def test_without_a_legacy_token_or_csv_it_says_so(openbao, pg_url, signing_keys, fake_railway):
    result = run("migrate-tokens", env=_env(openbao, pg_url, signing_keys, fake_railway))
    assert result.returncode == 2 and "RAILWAY_API_TOKEN is not set" in result.stderr
