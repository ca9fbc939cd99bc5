"""Drive the Community Solid Server's (7.2.0) sign-in screens in a browser, as a person would.

What a person sees, in order, after our app sends them to `/.oidc/auth?...` (prompt=consent):

1. `/.account/` and `/.account/login/`: blank pages whose scripts redirect at once (to the
   OIDC prompt, then to the only login method). Nothing to do but wait.
2. `/.account/login/password/`, titled "Log in": text boxes labelled "Email" and "Password", a
   checkbox "Stay logged in" (checked), and a "Log in" button that stays disabled until the
   page's script has loaded. A refused login shows its message in `<p id="error">`, for example
   "Invalid email/password combination.". Skipped when this browser context is still logged
   in (the cookie that "Stay logged in" keeps).
3. `/.account/oidc/consent/`, titled "An application is requesting access": the client's name
   and ID, one radio button per WebID of the account, labelled with the WebID (checked when there
   is only one), a checkbox "Remember this client" (checked), and the buttons "Authorize",
   "Cancel", "Edit account" and "Use a different account". CSS 7.2.0 has no separate
   "pick a WebID" page in the browser: choosing the WebID is part of this screen (its JSON API
   does have a separate `/.account/oidc/pick-webid/` step, which the script posts to).
4. "Authorize" sends the browser through `/.oidc/auth/<id>` to `redirect_uri?code&state&iss`.

If the consent is remembered and the client does not ask for `prompt=consent`, CSS may send the
browser straight back without showing any screen; `sign_in_at_css` accepts that too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Frame, Page, Request, expect

# The paths of CSS's own interaction pages and endpoints: how we recognise we are at CSS.
_CSS_PATH_MARKERS = ("/.account/", "/.oidc/")
_POLL_MS = 100

Screenshot = Callable[[Page, str], object]


class CssSignInError(AssertionError):
    """CSS refused the sign-in, or the screens were not the ones we know."""


def sign_in_at_css(
    page: Page,
    *,
    email: str,
    password: str,
    webid: str | None = None,
    screenshot: Screenshot | None = None,
    timeout: float = 15,
) -> str:
    """Sign in and authorize the client on CSS's screens; return the URL CSS sent us back to.

    Start with `page` at, or on its way to, a CSS screen (right after `page.goto` of an
    authorization URL, or after clicking a link that redirects there). The login form is filled
    only if CSS shows it. `webid` picks among several WebIDs, and when CSS remembers another
    account in this browser context it makes us choose "Use a different account". Each screen
    is passed to `screenshot(page, name)` before we act on it, as "css-login" (filled in) and
    "css-consent". Returns once the browser has arrived (and loaded) outside CSS, with the URL
    CSS redirected it to (`redirect_uri?code=...&state=...&iss=...`), even when that page
    redirects on, so `page.url` may differ.
    """
    tracker = _Tracker(page)
    acted: set[tuple[str, int]] = set()
    deadline = time.monotonic() + timeout
    try:
        while not tracker.arrived:
            screen = _current_screen(page) if tracker.at_css else None
            step = (screen or "", tracker.navigations)
            if screen and step in acted:
                _raise_if_refused(page, screen)
            elif screen == "login":
                _log_in(page, email, password, screenshot)
                acted.add(step)
            elif screen == "consent":
                _consent(page, webid, screenshot)
                acted.add(step)
            if time.monotonic() > deadline:
                raise CssSignInError(_stuck_message(page, tracker, timeout))
            page.wait_for_timeout(_POLL_MS)
    finally:
        tracker.stop()
    page.wait_for_load_state()
    return tracker.sent_to or page.url


class _Tracker:
    """Follows the main frame: did it reach CSS, where did CSS send it, and has it arrived?

    Navigation requests are watched as well as commits because redirects never commit: CSS may
    answer with nothing but redirects, and the client's callback may redirect on at once.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self.css_origin: str | None = _origin(page.url) if _is_css_url(page.url) else None
        self.sent_to: str | None = None  # the first URL outside CSS, i.e. the redirect back
        self.arrived = False
        self.navigations = 0
        page.on("request", self._on_request)
        page.on("framenavigated", self._on_navigated)

    @property
    def at_css(self) -> bool:
        return self.css_origin is not None and _origin(self.page.url) == self.css_origin

    def _on_request(self, request: Request) -> None:
        if not request.is_navigation_request() or request.frame != self.page.main_frame:
            return
        if self.css_origin is None and _is_css_url(request.url):
            self.css_origin = _origin(request.url)
        elif self.css_origin and self.sent_to is None and _origin(request.url) != self.css_origin:
            self.sent_to = request.url

    def _on_navigated(self, frame: Frame) -> None:
        if frame != self.page.main_frame:
            return
        self.navigations += 1
        url = self.page.main_frame.url
        if self.css_origin is None and _is_css_url(url):
            self.css_origin = _origin(url)
        elif self.css_origin is not None and _origin(url) != self.css_origin:
            self.sent_to = self.sent_to or url
            self.arrived = True

    def stop(self) -> None:
        self.page.remove_listener("request", self._on_request)
        self.page.remove_listener("framenavigated", self._on_navigated)


def _current_screen(page: Page) -> str | None:
    try:
        if page.get_by_label("Password", exact=True).is_visible():
            return "login"
        if page.get_by_role("button", name="Authorize").is_visible():
            return "consent"
    except PlaywrightError:  # the page navigated while we looked: look again next round
        pass
    return None


def _log_in(page: Page, email: str, password: str, screenshot: Screenshot | None) -> None:
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    if screenshot:
        screenshot(page, "css-login")
    # Playwright waits for the button to be enabled, i.e. for the page's script to be ready.
    page.get_by_role("button", name="Log in").click()


def _consent(page: Page, webid: str | None, screenshot: Screenshot | None) -> None:
    authorize = page.get_by_role("button", name="Authorize")
    # The WebID list is filled in by script; the button is enabled only once it is complete.
    expect(authorize).to_be_enabled()
    radios = page.get_by_role("radio")
    if webid is not None:
        choice = page.get_by_role("radio", name=webid, exact=True)
        if choice.count() == 0:
            # CSS remembers someone else's login in this browser context.
            page.get_by_role("button", name="Use a different account").click()
            return
        choice.check()
    elif radios.count() > 1:
        raise CssSignInError("This account has several WebIDs: pass webid= to choose one.")
    if screenshot:
        screenshot(page, "css-consent")
    authorize.click()


def _raise_if_refused(page: Page, screen: str) -> None:
    # CSS's scripts report a refused step in this element and stay on the screen. Reading it
    # must not wait: the page may be leaving for a screen (or a site) that has no such element.
    try:
        messages = page.locator("#error:visible").all_inner_texts()
    except PlaywrightError:
        return
    if message := " ".join(text.strip() for text in messages if text.strip()):
        raise CssSignInError(f"CSS refused the {screen} step: {message}")


def _stuck_message(page: Page, tracker: _Tracker, timeout: float) -> str:
    where = "never reached CSS" if tracker.css_origin is None else "did not leave CSS"
    try:
        text = " ".join(page.locator("body").inner_text(timeout=1000).split())[:400]
    except PlaywrightError:  # the page may be mid-navigation; the URL alone still helps
        text = "(unreadable)"
    return f"The browser {where} within {timeout:g} s; it is at {page.url}: {text}"


def _is_css_url(url: str) -> bool:
    path = urlsplit(url).path
    return any(marker in path for marker in _CSS_PATH_MARKERS)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
