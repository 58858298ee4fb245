"""VAULT_ADDR as a cluster's node list, and the backup settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.settings import SettingsError, load_backup_settings, load_vault_settings

pytestmark = pytest.mark.unit

BASE = {"VAULT_TOKEN": "hvs.x"}


def test_several_vault_addresses_keep_their_order_and_the_first_is_addr():
    vault = load_vault_settings({**BASE, "VAULT_ADDR": "http://a:8200, http://b:8200/,https://c:8200"})
    assert vault.addresses == ("http://a:8200", "http://b:8200", "https://c:8200")
    assert vault.addr == "http://a:8200" and vault.all_addresses == vault.addresses


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("http://a:8200,,http://b:8200", "empty entry"),
        ("http://a:8200,b:8200", "http(s) URLs"),
        ("http://a:8200,http://a:8200/", "twice"),
        ("http://", "http(s) URLs"),
    ],
)
def test_bad_vault_address_lists_are_refused_in_one_line(raw, message):
    with pytest.raises(SettingsError) as raised:
        load_vault_settings({**BASE, "VAULT_ADDR": raw})
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_backup_settings_defaults_and_overrides():
    assert load_backup_settings({}).directory == Path("backups")
    settings = load_backup_settings(
        {
            "BACKUP_DIR": "/vault/backups",
            "BACKUP_VAULT_TOKEN": "hvs.backup-secret",
            "BACKUP_HOURLY": "true",
            "BACKUP_INTERVAL_SECONDS": "3600",
            "BACKUP_METRICS_FILE": "/var/lib/node_exporter/mirage_backup.prom",
        }
    )
    assert (settings.directory, settings.hourly, settings.interval_seconds) == (Path("/vault/backups"), True, 3600)
    assert "hvs.backup-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BACKUP_VAULT_TOKEN": "t", "BACKUP_VAULT_ROLE_ID": "r", "BACKUP_VAULT_SECRET_ID": "s"}, "not both"),
        ({"BACKUP_VAULT_ROLE_ID": "r"}, "needs BACKUP_VAULT_SECRET_ID"),
        ({"BACKUP_INTERVAL_SECONDS": "10"}, "at least 60"),
        ({"BACKUP_HOURLY": "sometimes"}, "true or false"),
    ],
)
def test_contradictory_backup_settings_are_refused(env, message):
    with pytest.raises(SettingsError) as raised:
        load_backup_settings(env)
    assert message in str(raised.value)
