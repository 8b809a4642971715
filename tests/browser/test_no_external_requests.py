"""Every asset a page needs is served by the project: no fonts, scripts, styles or images from other hosts.

The ``page`` fixture refuses and records any request to a host other than this machine's loopback, so
nothing leaves the machine; these tests make such an attempt fail by name. The API docs are loaded under an
ordinary host name (``contestable.test``, mapped to 127.0.0.1 inside Chromium), because Swagger UI and
similar libraries skip some calls home only when the page is on localhost.
"""

from typing import Any

import pytest
from playwright.sync_api import Page
from pytest_django.live_server_helper import LiveServer

from tests.browser.support import (
    TEST_HOST,
    assert_no_external_requests,
    assert_stylesheets_loaded,
    record_of,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def public_url(live_server: LiveServer, settings: Any) -> str:
    """The live server's address under an ordinary host name, as a visitor on a real domain would use."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, TEST_HOST]
    return live_server.url.replace("127.0.0.1", TEST_HOST)


def test_the_api_docs_load_swagger_ui_from_the_project_and_nothing_from_elsewhere(
    page: Page, public_url: str
) -> None:
    page.goto(f"{public_url}/api/docs/")
    # Swagger UI's script ran and fetched the schema from /api/schema/: the API's title is on the page.
    page.get_by_role("heading", name="Contestable API").wait_for()
    page.wait_for_load_state("networkidle")

    assert assert_stylesheets_loaded(page) >= 1
    assert page.locator(".swagger-ui .opblock").count() > 0, "no operations were rendered"
    assert_no_external_requests(page)
    assert record_of(page).failed_responses == []


def test_no_redoc_page_is_served_since_it_would_load_remote_fonts(page: Page, public_url: str) -> None:
    # drf-spectacular's Redoc page links Google Fonts and a CDN logo; only Swagger UI (vendored) is served.
    response = page.goto(f"{public_url}/api/redoc/")
    assert response is not None
    assert response.status == 404
    assert_no_external_requests(page)


def test_the_health_check_answers_json_in_the_browser(page: Page, live_server: LiveServer) -> None:
    response = page.goto(f"{live_server.url}/healthz")

    assert response is not None
    assert response.status == 200
    assert response.json()["database"]["ok"] is True
    assert_no_external_requests(page)


def test_a_request_to_another_host_is_refused_and_recorded(page: Page, live_server: LiveServer) -> None:
    """The guard itself: a page that asks for a font from elsewhere gets nothing, and the attempt is named."""
    page.goto(f"{live_server.url}/healthz")
    page.set_content(
        '<link rel="stylesheet" href="https://fonts.example/css?family=Inter">'
        '<img src="https://cdn.example/pixel.png" alt="">'
    )
    page.wait_for_load_state("networkidle")

    assert sorted(record_of(page).external_requests) == [
        "https://cdn.example/pixel.png",
        "https://fonts.example/css?family=Inter",
    ]
    with pytest.raises(AssertionError, match=r"fonts\.example"):
        assert_no_external_requests(page)
    record_of(page).external_requests.clear()  # this test made them on purpose
