"""Degraded mode (Vault stopped under a served instance) and the `make run` development sign-in."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import hvac
import pytest
from playwright.sync_api import expect

from adapters.vault.bootstrap import bootstrap_vault
from tests.support.browser import look, messages, open_tab, screenshot
from tests.support.openbao import free_port, start_dev_openbao
from tests.support.processes import stop_process_group
from tests.support.served import serve

pytestmark = pytest.mark.e2e

DEV_READY_DEADLINE_SECONDS = 90


def test_with_vault_down_the_page_shows_the_degraded_banner_and_disables_creation(
    page, built_ui, pg_url, signing_keys, tmp_path
):
    bao = start_dev_openbao()
    try:
        client = hvac.Client(url=bao.addr, token=bao.root_token)
        bootstrap_vault(client, "mirage", jwt=None, user_auth="token")
        client.adapter.close()
        with serve(
            vault_addr=bao.addr,
            vault_token=bao.root_token,
            database_url=pg_url,
            signing_keys=signing_keys,
            log_dir=tmp_path,
            workers=1,
            # A process-local cache, so the stale read comes from this instance alone.
            extra_env={
                "REDIS_URL": "",
                "CACHE_TTL_SECONDS": "1",
                "CACHE_MAX_STALE_SECONDS": "3600",
                "VAULT_RETRY_ATTEMPTS": "1",
                "VAULT_TIMEOUT_SECONDS": "1",
            },
        ) as served:
            token = served.token("degraded-user")
            with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
                assert api.post("/api/v1/secrets", json={"key": "cached", "value": "cached-value"}).status_code == 201
                assert api.get("/api/v1/secrets/cached").status_code == 200  # now in the cache
            page.goto(f"{served.url}/ui")
            page.get_by_label("Bearer token").fill(token)
            page.get_by_role("button", name="Sign in", exact=True).click()
            open_tab(page, "Custom Secrets")
            expect(page.get_by_role("rowheader", name="cached")).to_be_visible()
            expect(page.get_by_role("button", name="Add Secret")).to_be_enabled()

            bao.stop()

            # Once the one-second TTL has passed, reads come from the stale cache entry, marked.
            deadline = time.monotonic() + 30
            with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
                while "X-Secrets-Stale" not in api.get("/api/v1/secrets/cached").headers:
                    assert time.monotonic() < deadline, "the read never came from the stale cache"
                    time.sleep(0.2)
            row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="cached"))
            row.get_by_role("button", name="View").click()
            row.get_by_role("button", name="Reveal value of cached").click()
            expect(row.get_by_label("Value of cached", exact=True)).to_have_text("cached-value")
            banner = page.get_by_role("alert").filter(has_text="Degraded mode")
            expect(banner).to_be_visible()
            expect(banner).to_contain_text("from the cache")
            add = page.get_by_role("button", name="Add Secret")
            expect(add).to_be_disabled()
            expect(page.get_by_text("Unavailable while the service is degraded")).to_be_visible()
            screenshot(page, "degraded-mode-stale")
            # Anything that needs Vault itself now answers 503; the banner names Vault's outage.
            open_tab(page, "Environment Secrets")
            page.get_by_role("textbox", name="Environment id").fill("any-env")
            page.get_by_role("button", name="Open environment").click()
            expect(page.get_by_role("tabpanel").get_by_role("alert")).to_contain_text("Secret store unavailable")
            expect(banner).to_contain_text("Secret store unavailable")
            look(page, "degraded-mode")
            open_tab(page, "Custom Secrets")
            expect(page.get_by_role("button", name="Add Secret")).to_be_disabled()
    finally:
        bao.stop()


def test_make_run_offers_the_development_sign_in(page, built_ui, tmp_path):
    """`mirage-secrets dev` (what `make run` starts): the button signs in with a dev token."""
    port, vault_port = free_port(), free_port(consecutive=2)
    env = {
        **os.environ,
        "PORT": str(port),
        "MIRAGE_DEV_VAULT_PORT": str(vault_port),
        "MIRAGE_DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "WARNING",
    }
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    log = (tmp_path / "dev.log").open("wb")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "mirage-secrets"), "dev"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + DEV_READY_DEADLINE_SECONDS
        while True:
            assert process.poll() is None, (tmp_path / "dev.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "dev.log").read_text()
            time.sleep(0.2)
        page.goto(f"{url}/ui")
        dev = page.get_by_role("button", name="Sign in as a development user")
        expect(dev).to_be_visible()
        screenshot(page, "sign-in-development")
        dev.click()
        expect(page.get_by_text("Signed in as dev-user")).to_be_visible()
        expect(page.get_by_role("tab", name="Migration Status")).to_be_visible()  # "with the admin role"
        open_tab(page, "Custom Secrets")
        page.get_by_role("button", name="Add Secret").click()
        dialog = page.get_by_role("dialog", name="Add Secret")
        dialog.get_by_role("textbox", name="Key").fill("dev-secret")
        dialog.get_by_label("Value", exact=True).fill("dev-value")
        dialog.get_by_role("button", name="Save").click()
        expect(messages(page)).to_contain_text("dev-secret saved as version 1")
    finally:
        stop_process_group(process)
        log.close()
    # SIGTERM (what stop_process_group sends) stops the embedded OpenBao too, not only the API.
    deadline = time.monotonic() + 15
    while _listening(vault_port):
        assert time.monotonic() < deadline, "mirage-secrets dev left its OpenBao running"
        time.sleep(0.2)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0
