"""Browser tests: Debian's Chromium driven by Playwright against Django's live server.

Write a browser test like this (it lives under tests/browser/, where these fixtures are visible)::

    pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

    def test_the_start_page_has_no_accessibility_violations(page, live_server):
        page.goto(f"{live_server.url}/portal/")
        axe_check(page)

    @pytest.mark.parametrize("viewport", [PHONE])      # a phone-sized window instead of the desktop one
    def test_it_fits_a_phone(page, live_server): ...

Rules of the house:

- The browser is /usr/bin/chromium from Debian (``apt-get install chromium``; .ci/run installs it when it is
  missing). Never ``playwright install``: nothing is downloaded. Without /usr/bin/chromium the tests are
  skipped on a developer's machine and fail in CI (tests/conftest.py).
- Chromium starts with the flags this machine kind needs (no sandbox as root, no GPU, and no background
  networking: the network is closed and Chromium's own calls home would be refused by the dozen).
- Each test gets a new browser context: a fresh profile with no cookies, storage or cache from another test.
- Every request the page makes to a host other than the loopback address is refused before it leaves the
  machine and recorded; the test then fails (all assets must be served by the project). An uncaught
  JavaScript error on the page fails the test too.
- ``live_server`` listens on 127.0.0.1 and serves static files from the app finders (Django's
  StaticFilesHandler, as in StaticLiveServerTestCase), so pages load their real CSS and JavaScript without
  ``collectstatic``.

Why DJANGO_ALLOW_ASYNC_UNSAFE: Playwright's sync API runs an asyncio event loop inside a greenlet of the
test's own thread, so while Playwright is started ``asyncio.get_running_loop()`` answers that loop in the
test thread and Django refuses ORM calls there (SynchronousOnlyOperation), including pytest-django's own
database set-up and flush. Nothing in that thread is really concurrent: the loop only runs while a
Playwright call waits, and the live server answers from its own threads. So the flag is set while Playwright
runs and put back afterwards. For the same reason Playwright is started once per *package* (the browser
tests), not per session: the rest of the suite then runs with no event loop in its thread and with Django's
async-safety checks on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright, Request, Route, ViewportSize, sync_playwright
from pytest_django.live_server_helper import LiveServer

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PageRecord, is_external

#: Milliseconds a single Playwright action or navigation may take before the test fails.
TIMEOUT_MS = 15_000


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # see the module docstring
    try:
        with sync_playwright() as pw:
            yield pw
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Debian Chromium, one for all the browser tests (a fresh temporary profile)."""
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def viewport() -> ViewportSize:
    """The window size; a test asks for another with ``@pytest.mark.parametrize("viewport", [PHONE])``."""
    return DESKTOP


@pytest.fixture
def page(browser: Browser, viewport: ViewportSize) -> Iterator[Page]:
    """A page in a new browser context (no cookies or storage from other tests), English, in Brussels."""
    phone = viewport["width"] < 600
    context = browser.new_context(
        viewport=viewport,
        locale="en-GB",
        timezone_id="Europe/Brussels",
        is_mobile=phone,
        has_touch=phone,
        device_scale_factor=1,
        service_workers="block",
    )
    context.set_default_timeout(TIMEOUT_MS)
    record = PageRecord()

    def refuse_external(route: Route, request: Request) -> None:
        if is_external(request.url):
            record.external_requests.append(request.url)
            route.abort("blockedbyclient")
        else:
            route.continue_()

    context.route("**/*", refuse_external)
    new_page = context.new_page()
    new_page.on("pageerror", lambda error: record.page_errors.append(str(error)))
    new_page.on(
        "response",
        lambda response: (
            record.failed_responses.append(f"{response.status} {response.url}")
            if response.status >= 400
            else None
        ),
    )
    setattr(new_page, "_contestable_record", record)  # noqa: B010 - read back by support.record_of
    try:
        yield new_page
    finally:
        context.close()
    problems = []
    if record.external_requests:
        problems.append("requests to other hosts: " + ", ".join(record.external_requests))
    if record.page_errors:
        problems.append("uncaught JavaScript errors: " + "; ".join(record.page_errors))
    if problems:
        pytest.fail("The page misbehaved during the test: " + " | ".join(problems))


@pytest.fixture(scope="package")
def live_server() -> Iterator[LiveServer]:
    """pytest-django's live server bound to 127.0.0.1 on a free port. It serves static files from the app
    finders through Django's StaticFilesHandler (``django.contrib.staticfiles`` is installed), like
    StaticLiveServerTestCase. Tests that use it get a transactional database (pytest-django). It stops when
    the browser tests are done, like Playwright."""
    server = LiveServer("127.0.0.1:0")
    yield server
    server.stop()
