"""A real chromium for the browser tests, driven by Playwright: they click what a person clicks.

Sections: hooks (the `browser` marker, reports on failure, the artifacts summary), the browser,
then per-test contexts, screenshots and the problems the browser saw.

One chromium runs for the session (it takes ~1 s to start); every test gets fresh browser
contexts, which share no cookies or storage, so `new_context()` once per person gives several
people signed in at once. Debian's chromium is used because `playwright install` downloads
browsers from outside (see testbed.md); the tests fail when it is missing.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Request,
    expect,
    sync_playwright,
)

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 15_000
SCREENSHOTS = Path("test-artifacts", "screenshots")

_HERE = Path(__file__).parent
_SCREENSHOT_DIRS = pytest.StashKey[list[Path]]()
_RUN = pytest.StashKey["BrowserRun"]()

# --- Hooks ---------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    # Registered here rather than in pyproject.toml so the marker lives with the tests it names.
    config.addinivalue_line("markers", "browser: drives a real chromium through Playwright")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # This hook sees every collected item, not only ours: mark those in this folder.
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    run = item.stash.get(_RUN, None)
    # The pages are still open here: fixtures are torn down after the call's report.
    if run is not None and report.when == "call" and report.failed:
        shots = run.screenshot_open_pages("failure")
        if shots:
            report.sections.append(("browser screenshots", "\n".join(map(str, shots))))
        if run.problems:
            report.sections.append(("browser problems", "\n".join(map(str, run.problems))))
    return report


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    folders = config.stash.get(_SCREENSHOT_DIRS, [])
    if folders:
        count = sum(len(list(folder.glob("*.png"))) for folder in folders)
        terminalreporter.write_line(f"Browser screenshots ({count}) in:")
        for folder in folders:
            terminalreporter.write_line(f"  {folder}")


# --- The browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium for the whole session."""
    if not os.access(CHROMIUM, os.X_OK):
        # A failure, not a skip: a browser suite that quietly does not run proves nothing.
        pytest.fail(
            f"{CHROMIUM} is missing: `make system-packages` installs Debian's chromium "
            "(never `playwright install`, which downloads browsers from outside)"
        )
    # Assertions wait as long as actions do, so a slow CI machine fails neither one first.
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox"],  # chromium's sandbox refuses to run as root
            headless=True,
        )
        yield chromium
        chromium.close()


# --- Per test: contexts, screenshots, problems ---------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Something that went wrong in a page: a console error, an exception or a failed request."""

    kind: str
    page_url: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} on {self.page_url}: {self.detail}"


@dataclass
class BrowserRun:
    """One test's browser contexts, screenshots and problems."""

    browser: Browser
    screenshot_dir: Path
    contexts: list[BrowserContext] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    on_first_screenshot: Callable[[Path], None] = lambda folder: None

    def new_context(self, **options: Any) -> BrowserContext:
        context = self.browser.new_context(**{"locale": "en-US", **options})
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        context.on("page", self._watch)  # also fires for context.new_page() and pop-ups
        self.contexts.append(context)
        return context

    def screenshot(self, page: Page, name: str) -> Path:
        if not self.screenshots:
            # A previous run's pictures of this test would mix with this run's.
            shutil.rmtree(self.screenshot_dir, ignore_errors=True)
            self.screenshot_dir.mkdir(parents=True)
            self.on_first_screenshot(self.screenshot_dir)
        path = self.screenshot_dir / f"{_safe_name(name)}.png"
        page.screenshot(path=path, full_page=True)
        self.screenshots.append(path)
        return path

    def screenshot_open_pages(self, prefix: str) -> list[Path]:
        taken = []
        pages = [page for context in self.contexts for page in context.pages]
        for number, page in enumerate(pages, start=1):
            try:
                taken.append(self.screenshot(page, f"{prefix}-{number}"))
            except Error:  # a crashed or closing page must not hide the test's own failure
                continue
        return taken

    def close(self) -> None:
        for context in self.contexts:
            try:
                context.close()
            except Error:
                continue

    def _watch(self, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type != "error":
                return
            source = message.location.get("url", "")
            if _is_favicon(source):
                return
            # "Failed to load resource" does not name the resource; its location does.
            detail = f"{message.text} ({source})" if source else message.text
            self._add("console error", page, detail)

        def on_request_failed(request: Request) -> None:
            failure = request.failure or ""
            # ERR_ABORTED is the browser cancelling a request because the page navigated on.
            if "ERR_ABORTED" in failure or _is_favicon(request.url):
                return
            self._add("request failed", page, f"{request.method} {request.url}: {failure}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self._add("uncaught exception", page, str(error)))
        page.on("requestfailed", on_request_failed)

    def _add(self, kind: str, page: Page, detail: str) -> None:
        self.problems.append(Problem(kind, page.url, detail))


class BrowserProblems:
    """What went wrong in this test's pages so far; failures of the test list them too."""

    def __init__(self, run: BrowserRun) -> None:
        self._run = run

    @property
    def all(self) -> list[Problem]:
        return list(self._run.problems)

    def unexpected(self, *ignore: str) -> list[Problem]:
        """The problems whose text matches none of the `ignore` regular expressions."""
        return [p for p in self._run.problems if not any(re.search(i, str(p)) for i in ignore)]

    def assert_none(self, *ignore: str) -> None:
        unexpected = self.unexpected(*ignore)
        assert not unexpected, "The browser saw problems:\n" + "\n".join(map(str, unexpected))


@pytest.fixture
def _browser_run(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserRun]:
    folders = request.config.stash.setdefault(_SCREENSHOT_DIRS, [])
    run = BrowserRun(
        browser,
        request.config.rootpath / SCREENSHOTS / _safe_name(request.node.name),
        on_first_screenshot=folders.append,
    )
    request.node.stash[_RUN] = run
    yield run
    run.close()


@pytest.fixture
def new_context(_browser_run: BrowserRun) -> Callable[..., BrowserContext]:
    """Factory: `new_context(**options)` opens a fresh browser context, one per person.

    Options are Playwright's (`base_url=...`, `viewport=...`); every context is closed after
    the test, and its pages are watched for problems.
    """
    return _browser_run.new_context


@pytest.fixture
def context(new_context: Callable[..., BrowserContext]) -> BrowserContext:
    """A fresh browser context: no cookies, no storage."""
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A page in this test's `context`."""
    return context.new_page()


@pytest.fixture
def screenshot(_browser_run: BrowserRun) -> Callable[[Page, str], Path]:
    """`screenshot(page, "name")` saves a full-page PNG to
    `test-artifacts/screenshots/<test name>/<name>.png` and returns its path."""
    return _browser_run.screenshot


@pytest.fixture
def browser_problems(_browser_run: BrowserRun) -> BrowserProblems:
    """Console errors, uncaught exceptions and failed requests seen by this test's pages."""
    return BrowserProblems(_browser_run)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "unnamed"


def _is_favicon(url: str) -> bool:
    # The browser asks every site for a favicon on its own; a 404 there is not the page's fault.
    return url.split("?", 1)[0].endswith("/favicon.ico")
