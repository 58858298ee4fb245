"""Docker Registries and Custom Secrets tabs, end to end: the real registry, real Vault."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import look, messages, open_tab, sign_in
from tests.support.registry import REGISTRY_USERS

pytestmark = pytest.mark.e2e


def test_add_test_edit_and_remove_a_registry(page, ui, user):
    sign_in(page, ui, user)
    open_tab(page, "Docker Registries")
    page.get_by_role("button", name="Add Registry").click()
    dialog = page.get_by_role("dialog", name="Add Registry")
    registry = dialog.get_by_role("combobox", name="Registry URL")
    expect(registry.get_by_role("option", name="GitHub Container Registry (ghcr.io)")).to_have_count(1)
    registry.select_option(label="Custom registry URL…")
    dialog.get_by_role("textbox", name="Custom registry URL").fill(ui.registry.host)
    dialog.get_by_role("textbox", name="Username").fill("mirage")
    password = dialog.get_by_label("Password")
    expect(password).to_have_attribute("type", "password")
    password.fill("wrong-password")
    look(page, "docker-add-modal")
    dialog.get_by_role("button", name="Test Login").click()
    expect(dialog.get_by_role("status")).to_contain_text("Login failed")
    password.fill(REGISTRY_USERS["mirage"])
    dialog.get_by_role("button", name="Test Login").click()
    expect(dialog.get_by_role("status")).to_contain_text("Login succeeded")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()

    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=ui.registry.host))
    expect(row).to_contain_text("mirage")
    look(page, "docker-registries")
    row.get_by_role("button", name="Test Login").click()
    expect(messages(page)).to_contain_text("login succeeded")
    row.get_by_role("button", name="Edit").click()
    edit = page.get_by_role("dialog", name=f"Edit Registry {ui.registry.host}")
    expect(edit.get_by_role("textbox", name="Username")).to_have_value("mirage")
    expect(edit.get_by_label("Password")).to_have_value("")  # the password is never sent to the page
    look(page, "docker-edit-modal")
    edit.get_by_role("button", name="Cancel").click()

    row.get_by_role("button", name="Remove").click()
    look(page, "docker-remove-confirm")
    page.get_by_role("dialog", name=f"Remove {ui.registry.host}").get_by_role("button", name="Remove").click()
    expect(messages(page)).to_contain_text("removed")
    expect(page.get_by_text("No registry credentials yet")).to_be_visible()
    assert REGISTRY_USERS["mirage"] not in page.content()


def add_secret(page, key: str, value: str, tags: str = "", type_: str = "custom") -> None:
    page.get_by_role("button", name="Add Secret").click()
    dialog = page.get_by_role("dialog", name="Add Secret")
    dialog.get_by_role("textbox", name="Key").fill(key)
    dialog.get_by_label("Value", exact=True).fill(value)
    dialog.get_by_role("textbox", name="Type").fill(type_)
    dialog.get_by_role("textbox", name="Tags (comma-separated)").fill(tags)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(messages(page)).to_contain_text(f"{key} saved as version")


def test_custom_secrets_search_filter_edit_history_rollback_and_delete(page, ui, user):
    sign_in(page, ui, user)
    open_tab(page, "Custom Secrets")
    expect(page.get_by_text("No secrets yet")).to_be_visible()
    page.get_by_role("button", name="Add Secret").click()
    dialog = page.get_by_role("dialog", name="Add Secret")
    value_field = dialog.get_by_label("Value", exact=True)
    expect(value_field).to_have_attribute("type", "password")
    look(page, "custom-add-secret-modal")
    dialog.get_by_role("button", name="Cancel").click()

    add_secret(page, "stripe-key", "sk_first_value", tags="payments, prod", type_="api_key")
    add_secret(page, "smtp-password", "mail-value-1", tags="mail")
    table = page.get_by_role("table", name="Custom secrets")
    expect(table.get_by_role("row")).to_have_count(3)
    assert "sk_first_value" not in page.content()  # listed without values

    page.get_by_role("searchbox", name="Search by key").fill("stripe")
    expect(table.get_by_role("row")).to_have_count(2)
    page.get_by_role("searchbox", name="Search by key").fill("")
    page.get_by_role("combobox", name="Tag").select_option("mail")
    expect(table.get_by_role("row")).to_have_count(2)
    expect(table).to_contain_text("smtp-password")
    page.get_by_role("combobox", name="Tag").select_option("")
    page.get_by_role("combobox", name="Type").select_option("api_key")
    expect(table.get_by_role("row")).to_have_count(2)
    expect(table).to_contain_text("stripe-key")
    page.get_by_role("combobox", name="Type").select_option("")
    look(page, "custom-secrets")

    row = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="stripe-key"))
    row.get_by_role("button", name="View").click()
    row.get_by_role("button", name="Reveal value of stripe-key").click()
    expect(row.get_by_label("Value of stripe-key", exact=True)).to_have_text("sk_first_value")
    row.get_by_role("button", name="Hide value of stripe-key").click()
    expect(row.get_by_label("Value of stripe-key, hidden")).to_be_visible()

    row.get_by_role("button", name="Edit").click()
    edit = page.get_by_role("dialog", name="Edit Secret stripe-key")
    expect(edit.get_by_role("textbox", name="Key")).to_have_attribute("readonly", "")
    look(page, "custom-edit-secret-modal")
    edit.get_by_label("New value (leave empty to keep the current one)").fill("sk_second_value")
    edit.get_by_role("button", name="Save").click()
    expect(messages(page)).to_contain_text("stripe-key saved as version 2")

    row.get_by_role("button", name="History").click()
    history = page.get_by_role("dialog", name="Version History: stripe-key")
    timeline = history.get_by_role("list", name="Versions of stripe-key, newest first")
    expect(timeline.get_by_role("listitem")).to_have_count(2)
    current = timeline.locator("[aria-current=true]")
    expect(current).to_contain_text("Version 2")
    expect(current).to_contain_text("Current")
    look(page, "version-history-modal")
    history.get_by_role("button", name="Reveal value of stripe-key version 1").click()
    expect(history.get_by_label("Value of stripe-key version 1", exact=True)).to_have_text("sk_first_value")
    history.get_by_role("button", name="Rollback to this version").click()
    confirm = page.get_by_role("dialog", name="Rollback to this version")
    look(page, "rollback-confirm")
    confirm.get_by_role("button", name="Roll back to version 1").click()
    expect(messages(page)).to_contain_text("version 1's value is now version 3")
    expect(timeline.get_by_role("listitem")).to_have_count(3)
    expect(timeline.locator("[aria-current=true]")).to_contain_text("Version 3")
    history.get_by_role("button", name="Close").click()
    expect(history).to_be_hidden()
    expect(row.get_by_role("button", name="History")).to_be_focused()  # focus returns to the opener

    row.get_by_role("button", name="Delete").click()
    look(page, "custom-delete-confirm")
    page.get_by_role("dialog", name="Delete stripe-key").get_by_role("button", name="Delete").click()
    expect(messages(page)).to_contain_text("stripe-key deleted")
    expect(table.get_by_role("row")).to_have_count(2)
    assert not page.errors


def test_modals_trap_focus_and_close_with_escape(page, ui, user):
    sign_in(page, ui, user)
    open_tab(page, "Custom Secrets")
    opener = page.get_by_role("button", name="Add Secret")
    opener.click()
    dialog = page.get_by_role("dialog", name="Add Secret")
    expect(dialog.get_by_role("textbox", name="Key")).to_be_focused()
    for _ in range(12):  # more presses than the dialog has controls
        page.keyboard.press("Tab")
        assert dialog.evaluate("(node) => node.contains(document.activeElement)")
    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        assert dialog.evaluate("(node) => node.contains(document.activeElement)")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()

    # The tabs work from the keyboard too (arrow keys move between them).
    page.get_by_role("tab", name="Custom Secrets").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Environment Secrets")).to_be_focused()
    expect(page.get_by_role("tab", name="Environment Secrets")).to_have_attribute("aria-selected", "true")


def test_a_secret_with_a_ttl_shows_its_expiry_and_the_expiry_warning(page, ui, user):
    sign_in(page, ui, user)
    expect(page.get_by_role("region", name="Expiry and rotation warnings")).to_have_count(0)
    open_tab(page, "Custom Secrets")
    page.get_by_role("button", name="Add Secret").click()
    dialog = page.get_by_role("dialog", name="Add Secret")
    dialog.get_by_role("textbox", name="Key").fill("short-lived")
    dialog.get_by_label("Value", exact=True).fill("temporary-value")
    dialog.get_by_role("textbox", name="Expires after (optional)").fill("2d")
    dialog.get_by_role("textbox", name="Rotate every (days, optional)").fill("30")
    dialog.get_by_role("button", name="Save").click()
    expect(messages(page)).to_contain_text("short-lived saved as version 1")
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="short-lived"))
    expect(row).to_contain_text("Expires")
    expect(row).to_contain_text("Rotate every 30 days")
    warnings = page.get_by_role("region", name="Expiry and rotation warnings")
    expect(warnings).to_contain_text("short-lived")
    expect(warnings).to_contain_text("expires in")
    look(page, "expiry-warnings")


def test_a_secret_can_be_added_and_revealed_from_the_keyboard_alone(page, ui, user):
    sign_in(page, ui, user)
    tab = page.get_by_role("tab", name="Railway Token")
    tab.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Custom Secrets")).to_have_attribute("aria-selected", "true")
    page.get_by_role("button", name="Add Secret").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Add Secret")
    expect(dialog.get_by_role("textbox", name="Key")).to_be_focused()
    page.keyboard.type("typed-key")
    page.keyboard.press("Tab")  # past the key's hint to the value field
    expect(dialog.get_by_label("Value", exact=True)).to_be_focused()
    page.keyboard.type("typed-value")
    page.keyboard.press("Enter")  # submits the form
    expect(dialog).to_be_hidden()
    expect(messages(page)).to_contain_text("typed-key saved as version 1")
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="typed-key"))
    row.get_by_role("button", name="View").focus()
    page.keyboard.press("Enter")
    reveal = row.get_by_role("button", name="Reveal value of typed-key")
    reveal.focus()
    page.keyboard.press("Space")
    expect(row.get_by_label("Value of typed-key", exact=True)).to_have_text("typed-value")
