"""Steps a person takes in the browser tests: signing in with their WebID, opening a space."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.css_screens import sign_in_at_css


def sign_in(page: Page, base: str, account, screenshot=None) -> None:
    page.goto(base)
    page.get_by_role("link", name="Sign in with your WebID").click()
    page.get_by_label("Your WebID").fill(account.webid)
    if screenshot:
        screenshot(page, "sign-in")
    page.get_by_role("button", name="Sign in").click()
    sign_in_at_css(page, email=account.email, password=account.password)
    expect(page.get_by_text(f"Signed in as {account.webid}")).to_be_visible()


def open_space(page: Page, name: str) -> None:
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
