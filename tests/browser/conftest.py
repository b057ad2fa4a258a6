"""A real Chromium (Debian's) driven by Playwright, against daphne on the test database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="package")
def browser(django_db_setup, web_server, stack_env) -> Iterator[object]:
    """Chromium for the tests of this package; started after the database, daphne and their env exist."""
    if not CHROMIUM.exists():
        reason = (
            f"Debian's Chromium is not installed at {CHROMIUM}; `apt-get install chromium` to run the browser tests."
        )
        if os.environ.get("CHLOPS_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread while it is open. The tests'
    # ORM calls stay plain synchronous calls between browser steps, so Django's guard against ORM
    # calls from async code is lifted for exactly that span (the env of daphne and workers is fixed already).
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def page_at(browser, web_server, viewport: dict[str, int]) -> Iterator[object]:
    """A page of its own context at `viewport`; any JavaScript error on it fails the test."""
    context = browser.new_context(base_url=web_server, viewport=viewport)
    context.set_default_timeout(30_000)  # a loaded 2-core CI machine is slow; events still end the waits early
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page(browser, web_server) -> Iterator[object]:
    with page_at(browser, web_server, {"width": 1440, "height": 1000}) as page:
        yield page
