"""The deployment files parse and say what the operations runbooks rely on.

HCL through python-hcl2, YAML through PyYAML, JSON, systemd units through configparser;
`docker compose config` where Docker Compose exists. tests/integration/test_production_config.py
starts `bao` on the production HCL itself.
"""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.deployment import INFRA, ROOT, hcl

pytestmark = pytest.mark.unit


def test_production_hcl_raft_at_vault_data_ha_audit_telemetry_tls_at_proxy():
    config = hcl(INFRA / "openbao" / "production.hcl")
    raft = config["storage"][0]["raft"]
    assert raft["path"] == "/vault/data"
    assert raft["performance_multiplier"] == 1
    joins = [join["leader_api_addr"] for join in raft["retry_join"]]
    assert len(joins) >= 3 and len(joins) % 2 == 1  # 3 or 5 voters
    listener = config["listener"][0]["tcp"]
    assert listener["tls_disable"] is True and listener["x_forwarded_for_reject_not_authorized"] is True
    audit = config["audit"][0]["file"]["file"]["options"][0]
    assert (audit["file_path"], audit["format"]) == ("/vault/logs/audit.log", "json")
    telemetry = config["telemetry"][0]
    assert telemetry["disable_hostname"] is True and telemetry["prometheus_retention_time"]
    assert config["api_addr"].startswith("https://") and config["cluster_addr"].endswith(":8201")


def test_transit_unseal_example_names_a_key_and_keeps_the_token_out_of_the_file():
    seal = hcl(INFRA / "openbao" / "transit-unseal.hcl")["seal"][0]["transit"]
    assert seal["key_name"] == "mirage-autounseal" and seal["mount_path"] == "transit/"
    assert "token" not in seal


@pytest.mark.parametrize("path", sorted((INFRA / "vault" / "policies").glob("*.hcl")), ids=lambda p: p.name)
def test_policies_parse(path):
    assert hcl(path)["path"], path


def test_the_backup_policy_reads_no_value():
    paths = {
        name: rule["capabilities"]
        for entry in hcl(INFRA / "vault" / "policies" / "backup-policy.hcl")["path"]
        for name, rule in entry.items()
    }
    assert paths == {"sys/storage/raft/snapshot": ["read"], "${mount}/metadata/*": ["read", "list"]}


def test_docker_compose_is_the_spec_laptop_stack():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"vault", "postgres", "redis", "app"}
    vault = services["vault"]
    assert vault["image"].startswith("hashicorp/vault:")
    assert vault["environment"]["VAULT_DEV_ROOT_TOKEN_ID"] and "IPC_LOCK" in vault["cap_add"]
    app = services["app"]
    assert app["build"]["dockerfile"] == "infra/docker/Dockerfile"
    assert app["environment"]["VAULT_ADDR"] == "http://vault:8200"
    assert app["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert set(app["depends_on"]) == {"vault", "postgres", "redis"}
    assert all(dep["condition"] == "service_healthy" for dep in app["depends_on"].values())


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config_accepts_it():
    command = _compose_command()
    if command is None:
        pytest.skip("no Docker Compose on this machine (docker has no compose plugin): the YAML checks above still ran")
    result = subprocess.run(
        [*command, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        env={
            "AUTH_JWKS_URL": "https://idp.example/jwks",
            "AUTH_ISSUER": "https://idp.example",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def _instructions(path: Path) -> list[tuple[str, str]]:
    lines, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            lines.append((word.upper(), rest))
            pending = ""
    return lines


@pytest.mark.parametrize(
    ("name", "base", "user"),
    [("Dockerfile", "python:3.11-slim", "mirage"), ("openbao.Dockerfile", "openbao/openbao:2.7.2", "openbao")],
)
def test_dockerfiles_pin_their_base_and_run_unprivileged(name, base, user):
    instructions = _instructions(INFRA / "docker" / name)
    assert instructions[0] == ("FROM", base)
    assert ("USER", user) in instructions
    assert any(word in ("CMD", "ENTRYPOINT") for word, _ in instructions)
    for word, rest in instructions:
        if word == "COPY":
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), f"{name} copies {source}, which does not exist"


def test_the_vault_image_uses_the_production_config():
    instructions = dict(_instructions(INFRA / "docker" / "openbao.Dockerfile"))
    assert "infra/openbao/production.hcl" in instructions["COPY"]
    assert "/vault/config/production.hcl" in instructions["CMD"]


def test_railway_services_have_their_volume_healthcheck_and_cron():
    vault = json.loads((INFRA / "railway" / "vault.railway.json").read_text())
    service = json.loads((INFRA / "railway" / "service.railway.json").read_text())
    cron = json.loads((INFRA / "railway" / "backup-cron.railway.json").read_text())
    for config in (vault, service, cron):
        assert config["build"]["builder"] == "DOCKERFILE"
        assert (ROOT / config["build"]["dockerfilePath"]).is_file()
    assert vault["deploy"]["requiredMountPath"] == "/vault/data"
    assert service["deploy"]["healthcheckPath"] == "/readyz" and service["deploy"]["numReplicas"] >= 2
    assert len(cron["deploy"]["cronSchedule"].split()) == 5 and "backup create" in cron["deploy"]["startCommand"]


def test_systemd_timer_and_service_parse():
    unit = configparser.ConfigParser(strict=True, interpolation=None)
    unit.read(INFRA / "systemd" / "mirage-backup.service")
    assert unit["Service"]["Type"] == "oneshot" and "backup create" in unit["Service"]["ExecStart"]
    timer = configparser.ConfigParser(strict=True, interpolation=None)
    timer.read(INFRA / "systemd" / "mirage-backup.timer")
    assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Persistent"] == "true"


def test_prometheus_rules_are_yaml_with_groups():
    rules = yaml.safe_load((INFRA / "prometheus" / "alerts.yml").read_text())
    assert all(group["rules"] for group in rules["groups"])
