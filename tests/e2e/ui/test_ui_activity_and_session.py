"""Activity (audit trail, filters, paging, CSV), the admin migration dashboard and revoke, the
sign-in page, sign-out, and where the token and values must never end up."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import look, messages, open_tab, sign_in

pytestmark = pytest.mark.e2e


def test_activity_lists_filters_pages_and_exports_the_callers_trail(page, ui, user):
    token = sign_in(page, ui, user)
    with httpx.Client(base_url=ui.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
        for number in range(14):  # 28 events: more than one page of 25
            assert api.post("/api/v1/secrets", json={"key": f"audited-{number}", "value": "v"}).status_code == 201
            assert api.get(f"/api/v1/secrets/audited-{number}").status_code == 200
    open_tab(page, "Activity")
    table = page.get_by_role("table", name="Activity, newest first")
    expect(table.get_by_role("row")).to_have_count(26)  # header + 25
    look(page, "activity")
    page.get_by_role("button", name="Older").click()
    expect(page.get_by_text("Page 2")).to_be_visible()
    expect(table.get_by_role("row").nth(1)).to_be_visible()
    page.get_by_role("button", name="Newer").click()
    expect(page.get_by_text("Page 1")).to_be_visible()

    filters = page.get_by_role("form", name="Activity filters")
    filters.get_by_role("textbox", name="Secret").fill("audited-3")
    filters.get_by_role("combobox", name="Action").select_option("read")
    filters.get_by_role("button", name="Apply filters").click()
    expect(table.get_by_role("row")).to_have_count(2)
    expect(table).to_contain_text("audited-3")
    expect(table).to_contain_text("read")

    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    csv_text = download.value.path().read_text()
    assert "audited-13" in csv_text and csv_text.splitlines()[0].count(",") >= 3
    expect(messages(page)).to_contain_text("Activity exported as CSV")


def test_admins_see_the_migration_dashboard_and_revoke_a_users_secret(page, ui, user):
    victim = f"{user}-victim"
    with httpx.Client(base_url=ui.url, headers=ui.served.headers(victim), timeout=10) as api:
        assert api.post("/api/v1/secrets", json={"key": "leaked", "value": "v"}).status_code == 201
    sign_in(page, ui, f"{user}-admin", admin=True)
    open_tab(page, "Migration Status")
    expect(page.get_by_text("On Vault tokens")).to_be_visible()
    expect(page.get_by_label("Users migrated to Vault")).to_be_visible()
    page.get_by_role("textbox", name="User id").fill(victim)
    page.get_by_role("button", name="Show secrets").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="leaked"))
    look(page, "admin-migration-status")
    row.get_by_role("button", name="Revoke").click()
    confirm = page.get_by_role("dialog", name="Revoke leaked")
    look(page, "admin-revoke-confirm")
    confirm.get_by_role("button", name="Revoke").click()
    expect(messages(page)).to_contain_text(f"Revoked leaked of {victim}")
    expect(page.get_by_text(f"{victim} has no secrets")).to_be_visible()
    with httpx.Client(base_url=ui.url, headers=ui.served.headers(victim), timeout=10) as api:
        assert api.get("/api/v1/secrets/leaked").status_code == 404


def test_non_admins_get_no_admin_tab(page, ui, user):
    sign_in(page, ui, user)
    expect(page.get_by_role("tab", name="Activity")).to_be_visible()
    expect(page.get_by_role("tab", name="Migration Status")).to_have_count(0)


def test_sign_in_page_offers_no_development_sign_in_in_production(page, ui):
    assert httpx.get(f"{ui.url}/ui/dev-session", timeout=10).status_code == 404
    assert httpx.post(f"{ui.url}/ui/dev-session", timeout=10).status_code == 404
    page.goto(f"{ui.url}/ui")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Bearer token")).to_have_attribute("type", "password")
    expect(page.get_by_role("button", name="Sign in as a development user")).to_have_count(0)
    page.get_by_label("Bearer token").fill("not a token")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("does not look like a bearer token")
    look(page, "sign-in")


def test_a_refused_token_returns_to_sign_in_with_a_reason(page, ui, user):
    page.goto(f"{ui.url}/ui")
    page.get_by_label("Bearer token").fill("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Sign in again")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def storage_snapshot(page) -> str:
    """Everything the browser keeps for the page, besides memory: storages, cookies, URL, title."""
    stored = page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie,"
        " location.href, document.title, history.length])"
    )
    cookies = str(page.context.cookies())
    return stored + cookies + page.url


def test_the_token_and_values_never_reach_storage_cookies_title_or_url_and_sign_out_forgets(page, ui, user):
    token = sign_in(page, ui, user)
    value = "canary-value-7f3a9c"
    open_tab(page, "Custom Secrets")
    page.get_by_role("button", name="Add Secret").click()
    dialog = page.get_by_role("dialog", name="Add Secret")
    dialog.get_by_role("textbox", name="Key").fill("canary")
    dialog.get_by_label("Value", exact=True).fill(value)
    dialog.get_by_role("button", name="Save").click()
    expect(messages(page)).to_contain_text("canary saved as version 1")
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="canary"))
    row.get_by_role("button", name="View").click()
    row.get_by_role("button", name="Reveal value of canary").click()
    expect(row.get_by_label("Value of canary", exact=True)).to_have_text(value)
    row.get_by_role("button", name="Copy value of canary").click()
    expect(messages(page)).to_contain_text("Copied the value of canary")
    assert page.evaluate("() => navigator.clipboard.readText()") == value

    seen = storage_snapshot(page)
    assert token not in seen and value not in seen
    assert token.split(".")[2] not in seen  # not even the signature part

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert token not in storage_snapshot(page)
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # nothing kept to sign back in with
    expect(page.get_by_role("tab", name="Railway Token")).to_have_count(0)
    assert not page.errors
