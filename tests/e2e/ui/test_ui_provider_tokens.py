"""Railway and GitHub token tabs, end to end in the browser against the wire fakes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import look, messages, open_tab, sign_in

pytestmark = pytest.mark.e2e


def test_a_new_user_configures_tests_rotates_and_removes_the_railway_token(page, ui, user):
    sign_in(page, ui, user)
    banner = page.get_by_role("region", name="Configure Railway Token")
    expect(banner).to_be_visible()
    expect(page.get_by_role("group", name="Railway token status")).to_contain_text("Not configured")
    look(page, "railway-not-configured")

    banner.get_by_role("button", name="Add Railway Token").click()
    dialog = page.get_by_role("dialog", name="Configure Railway Token")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("link", name="How to get Railway token")).to_have_attribute(
        "href", "https://railway.com/account/tokens"
    )
    field = dialog.get_by_role("textbox", name="Railway token")
    expect(field).to_have_attribute("type", "password")
    expect(field).to_be_focused()
    field.fill("not-a-token")
    expect(dialog.get_by_text("looks like 8-4-4-4-12 hexadecimal digits")).to_be_visible()
    expect(dialog.get_by_role("button", name="Save & Validate")).to_be_disabled()
    look(page, "railway-configure-modal")

    refused = "0f0e0d0c-0b0a-4908-8706-050403020100"  # the right shape, unknown to Railway
    field.fill(refused)
    expect(dialog.get_by_text("The format looks right.")).to_be_visible()
    dialog.get_by_role("button", name="Save & Validate").click()
    expect(dialog.get_by_role("alert")).to_be_visible()  # Railway's refusal, from the problem detail
    assert "configured" not in (
        page.get_by_role("group", name="Railway token status").inner_text().lower().replace("not configured", "")
    )

    token = ui.railway.add_account_token()
    field.fill(token)
    dialog.get_by_role("button", name="Save & Validate").click()
    expect(dialog).to_be_hidden()
    expect(messages(page)).to_contain_text("Railway token configured successfully")
    expect(page.get_by_role("group", name="Railway token status")).to_contain_text("Connected")
    expect(banner).to_be_hidden()
    expect(page.get_by_role("button", name="Update Token")).to_be_visible()
    look(page, "railway-connected")

    page.get_by_role("button", name="Test Connection").click()
    expect(messages(page)).to_contain_text("Railway accepted the token")

    page.get_by_role("button", name="Rotate Token").click()
    confirm = page.get_by_role("dialog", name="Rotate Token")
    expect(confirm).to_contain_text("new version")
    look(page, "railway-rotate-confirm")
    confirm.get_by_role("button", name="Continue").click()
    rotate = page.get_by_role("dialog", name="Rotate Railway Token")
    rotate.get_by_role("textbox", name="Railway token").fill(ui.railway.add_account_token())
    rotate.get_by_role("button", name="Save & Validate").click()
    expect(messages(page)).to_contain_text("Railway token rotated: version 1 → 2")

    page.get_by_role("button", name="Remove Token").click()
    remove = page.get_by_role("dialog", name="Remove Token")
    look(page, "railway-remove-confirm")
    remove.get_by_role("button", name="Remove Token").click()
    expect(messages(page)).to_contain_text("0 environments used it")
    expect(page.get_by_role("group", name="Railway token status")).to_contain_text("Not configured")
    assert token not in page.content()
    assert not page.errors


def test_the_github_tab_shows_username_scopes_and_expiry(page, ui, user):
    token = ui.github.add_token(login="octo-ui", scopes="repo, read:org", expiration="2030-01-31 12:00:00 UTC")
    sign_in(page, ui, user)
    open_tab(page, "GitHub Token")
    status = page.get_by_role("group", name="GitHub token status")
    expect(status).to_contain_text("Not configured")
    page.get_by_role("button", name="Configure Token").click()
    dialog = page.get_by_role("dialog", name="Configure GitHub Token")
    dialog.get_by_role("textbox", name="GitHub token").fill("ghp_short")
    expect(dialog.get_by_text("A GitHub token starts with")).to_be_visible()
    look(page, "github-configure-modal")
    dialog.get_by_role("textbox", name="GitHub token").fill(token)
    dialog.get_by_role("button", name="Save & Validate").click()
    expect(messages(page)).to_contain_text("GitHub token configured successfully for octo-ui")
    expect(status).to_contain_text("octo-ui")
    expect(status).to_contain_text("repo, read:org")
    expect(status).to_contain_text("2030")
    expect(status).to_contain_text("Repositories accessible")
    look(page, "github-connected")
    page.get_by_role("button", name="Test Connection").click()
    expect(messages(page)).to_contain_text("GitHub validated this token for octo-ui")

    page.get_by_role("button", name="Remove Token").click()
    look(page, "github-remove-confirm")
    page.get_by_role("dialog", name="Remove Token").get_by_role("button", name="Remove Token").click()
    expect(messages(page)).to_contain_text("GitHub token removed")
    expect(status).to_contain_text("Not configured")
    assert not page.errors
