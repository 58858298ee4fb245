"""The `mirage-secrets` console script, run as an operator would."""

from __future__ import annotations

import hvac
import pytest

from adapters.identity.dev_keys import DEV_AUDIENCE, DEV_ISSUER
from adapters.identity.jwt_verifier import JwtVerifier
from tests.support.cli import run
from tests.support.openbao import start_dev_openbao

pytestmark = pytest.mark.integration


@pytest.fixture
def fresh_openbao():
    """A server of its own: bootstrapping rewrites the policies every other test relies on."""
    server = start_dev_openbao()
    yield server
    server.stop()


def test_vault_bootstrap_is_idempotent_on_a_fresh_mount(fresh_openbao):
    openbao = fresh_openbao
    env = {"VAULT_ADDR": openbao.addr, "VAULT_TOKEN": openbao.root_token, "VAULT_MOUNT": "bootstrap-test"}
    first, second = run("vault", "bootstrap", env=env), run("vault", "bootstrap", env=env)
    assert first.returncode == 0 and "mounted" in first.stdout and "AppRole mirage-backend" in first.stdout, (
        first.stderr
    )
    assert second.returncode == 0 and "kept" in second.stdout, second.stderr
    config = hvac.Client(url=openbao.addr, token=openbao.root_token).secrets.kv.v2.read_configuration(
        mount_point="bootstrap-test"
    )["data"]
    assert (config["max_versions"], config["cas_required"]) == (10, True)


def test_vault_bootstrap_with_vault_down_is_one_clear_line():
    result = run("vault", "bootstrap", env={"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "t"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_dev_token_prints_a_token_the_dev_keys_verify(tmp_path):
    env = {"MIRAGE_DATA_DIR": str(tmp_path)}
    missing = run("dev-token", "alice", env=env)
    assert missing.returncode == 2 and "make run" in missing.stderr
    from adapters.identity.dev_keys import ensure_dev_keypair

    _, public_key = ensure_dev_keypair(tmp_path / "auth")
    result = run("dev-token", "alice", "--admin", env=env)
    assert result.returncode == 0, result.stderr
    verifier = JwtVerifier(issuer=DEV_ISSUER, audience=DEV_AUDIENCE, public_key_file=public_key)
    principal = verifier.verify(result.stdout.strip())
    assert (principal.user_id, principal.is_admin) == ("alice", True)
