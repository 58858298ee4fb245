"""Driving the web UI the way a person does (Playwright, by role and accessible name), with axe-core
on every page and modal the suite opens."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.support.providers import FakeGitHub, FakeRailway
from tests.support.registry import LocalRegistry
from tests.support.served import ServedInstance

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
# axe-core impacts that fail a test; "minor" and "moderate" findings are reported, not fatal.
FATAL_IMPACTS = {"serious", "critical"}


@dataclass(frozen=True)
class UiInstance:
    served: ServedInstance
    railway: FakeRailway
    github: FakeGitHub
    registry: LocalRegistry

    @property
    def url(self) -> str:
        return self.served.url


def sign_in(page: Page, instance: UiInstance, user: str, *, admin: bool = False) -> str:
    """Open /ui and sign in the way a person does: paste a bearer token. Returns the token."""
    token = instance.served.token(user, admin=admin)
    page.goto(f"{instance.url}/ui")
    page.get_by_label("Bearer token").fill(token)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("tab", name="Railway Token")).to_be_visible()
    return token


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    expect(page.get_by_role("tab", name=name)).to_have_attribute("aria-selected", "true")


def check_accessibility(page: Page, what: str) -> None:
    """axe-core on what is on screen now (page or open modal): no serious or critical violation."""
    results = Axe().run(page)
    fatal = [v for v in results.response["violations"] if v.get("impact") in FATAL_IMPACTS]
    report = "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in fatal
    )
    assert not fatal, f"axe found serious/critical violations on {what}:\n{report}"


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def look(page: Page, name: str) -> None:
    """Every page and modal the suite opens: checked by axe and photographed."""
    check_accessibility(page, name)
    screenshot(page, name)


def messages(page: Page):
    """The page's success/error line (a polite live region)."""
    return page.get_by_role("status", name="Messages")
