"""Browser tests: Playwright drives the system's Chromium against a live server.

Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls
from a thread with a running loop unless told the caller is synchronous, which it is.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, require_service

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
# var/ is gitignored; the screenshots are there to be looked at after a run.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
}, true);
"""


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    require_service(Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, request) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(10_000)
    # Chromium logs CSP violations to the console itself; the event is a second witness
    # that also names the directive, and it fires for report-only policies too.
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    problems: list[str] = []

    def on_console(message) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"console {message.type} on {page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda e: problems.append(f"page error on {page.url}: {e}"))
    # A test that expects an error response (a 400 form, a 403 page) allows Chromium's
    # own "Failed to load resource ... status of 403" line by adding it here.
    page.allowed_console = []
    page.problems = problems
    yield page
    context.close()
    assert_clean(page)


def assert_clean(page) -> None:
    """No console error or warning (CSP violations, failed loads, script errors) so far.

    The page fixture checks this when the test ends; calling it after each page of a
    walk-through makes a failure point at the page that caused it.
    """
    unexpected = [p for p in page.problems if not any(a in p for a in page.allowed_console)]
    assert not unexpected, "\n".join(unexpected)


def screenshot(page, name: str) -> Path:
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/$"))


def post_as_page(page, path: str, data: dict[str, str] | None = None):
    """POST a form with the session and CSRF token of the page's last response.

    For checking what the server refuses (a permission, not a missing token): the request
    goes around the page's own forms, exactly as a hand-made request would.
    """
    token = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    return page.request.post(path, form=data or {}, headers={"X-CSRFToken": token}, max_redirects=0)
