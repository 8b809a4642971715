"""The portal as a person meets it, in Chromium: every page and error state has zero WCAG 2.2 AA violations
(axe-core), on a desktop window and on a small phone.

The decision is recorded through the decisions service, exactly as an integrator's API call would, and the
person arrives through the signed link built by the project's own signing function (decisions.access).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from core.actors import SYSTEM
from decisions import access, services
from tests.browser.support import (
    DESKTOP,
    PHONE,
    assert_no_external_requests,
    assert_stylesheets_loaded,
    axe_check,
    focused_element,
    screenshot,
)
from tests.factories import decision_payload, live_system

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]


@pytest.fixture
def recorded() -> services.ItemResult:
    """An adverse credit decision recorded through the service; its notice is composed and delivered."""
    system, version = live_system()
    return services.decision_record(data=decision_payload(system, version), actor=SYSTEM)


def _size(viewport: Any) -> str:
    return "phone" if viewport["width"] < 600 else "desktop"


def _fits_the_window(page: Page) -> None:
    """WCAG 1.4.10 Reflow: the page never needs sideways scrolling at the window's width (a wide data table
    may scroll inside its own container). Measured against the viewport we set, not ``innerWidth``: a phone
    browser widens its layout viewport (zooms out) to fit content that is too wide."""
    assert page.viewport_size is not None
    width = page.viewport_size["width"]
    content = page.evaluate("() => document.documentElement.scrollWidth")
    if content <= width:
        return
    wide = page.evaluate(
        """(width) => [...document.querySelectorAll('body *')]
            .filter((el) => el.getBoundingClientRect().right > width + 1)
            .filter((el) => el.parentElement.getBoundingClientRect().right <= width + 1)
            .map((el) => el.tagName.toLowerCase() + [...el.classList].map((c) => '.' + c).join('')
                 + ' (' + Math.round(el.getBoundingClientRect().right) + 'px)')""",
        width,
    )
    raise AssertionError(f"the page is {content}px wide in a {width}px window; too wide: {wide}")


@pytest.mark.parametrize("viewport", SIZES)
def test_the_start_page_has_no_accessibility_violations(
    page: Page, live_server: LiveServer, viewport: Any
) -> None:
    response = page.goto(f"{live_server.url}/portal/")

    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("See a decision about you")
    assert assert_stylesheets_loaded(page) == 1
    axe_check(page)
    _fits_the_window(page)
    assert_no_external_requests(page)
    if _size(viewport) == "phone":
        screenshot(page, "portal-start-phone")


@pytest.mark.parametrize("viewport", SIZES)
def test_a_wrong_code_shows_the_error_summary_with_focus_and_keeps_the_reference(
    page: Page, live_server: LiveServer, viewport: Any, recorded: services.ItemResult
) -> None:
    assert recorded.decision is not None
    reference = recorded.decision.public_reference
    page.goto(f"{live_server.url}/portal/")

    page.get_by_label("Reference").fill(reference.lower())
    page.get_by_label("Code").fill("WRONG123")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Continue").click()

    response = navigation.value
    assert response is not None and response.status == 400
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text("We could not find a decision with that reference and code.")
    assert page.title().startswith("There is a problem: ")
    # Focus is on the error summary, so a screen reader reads it first and the keyboard starts there.
    assert "error-summary" in focused_element(page).get("classes", []), focused_element(page)
    # The reference survives the failed submission (normalised); the secret code is never sent back.
    expect(page.get_by_label("Reference")).to_have_value(reference)
    expect(page.get_by_label("Code")).to_have_value("")
    axe_check(page)
    _fits_the_window(page)
    if _size(viewport) == "phone":
        screenshot(page, "portal-start-error-phone")


def test_the_error_summary_links_take_the_person_to_each_empty_field(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(f"{live_server.url}/portal/")
    page.get_by_role("button", name="Continue").click()

    summary = page.get_by_role("alert")
    expect(summary.get_by_role("link")).to_have_text(["Enter your reference", "Enter your code"])
    axe_check(page)
    summary.get_by_role("link", name="Enter your code").click()
    assert focused_element(page).get("id") == "code"
    expect(page.get_by_label("Code")).to_have_accessible_description(
        "8 letters and numbers Error: Enter your code"
    )


@pytest.mark.parametrize("viewport", SIZES)
def test_the_signed_link_opens_the_decision_page_at_a_clean_address_with_no_violations(
    page: Page, live_server: LiveServer, viewport: Any, recorded: services.ItemResult, settings: Any
) -> None:
    decision = recorded.decision
    assert decision is not None
    settings.SITE_URL = live_server.url  # the link exactly as the notice carries it
    link = access.decision_link_url(decision.pk, valid_days=access.link_validity_days(decision.system))

    page.goto(link)

    assert page.url == f"{live_server.url}/portal/decision/"  # the token is gone from the address bar
    expect(page.get_by_role("heading", level=1)).to_have_text("Declined")
    expect(page.locator(".caption")).to_contain_text(f"Reference {decision.public_reference}")
    expect(page.locator("#status").get_by_text("You can appeal until")).to_be_visible()
    expect(page.get_by_role("heading", name="The main reasons")).to_be_visible()
    assert assert_stylesheets_loaded(page) == 1
    axe_check(page)
    _fits_the_window(page)
    assert_no_external_requests(page)


def test_the_decision_page_in_spanish_has_no_violations(
    page: Page, live_server: LiveServer, recorded: services.ItemResult
) -> None:
    decision = recorded.decision
    assert decision is not None
    token = access.decision_link_token(decision.pk, valid_days=access.link_validity_days(decision.system))
    page.goto(f"{live_server.url}/portal/open/{token}")

    page.get_by_role("link", name="Español").click()

    assert page.locator("html").get_attribute("lang") == "es"
    expect(page.get_by_role("heading", level=1)).to_have_text("Denegado")
    expect(page.locator("#status").get_by_text("Puede apelar hasta el")).to_be_visible()
    axe_check(page)


def test_the_reference_and_the_right_code_open_the_decision_page(
    page: Page, live_server: LiveServer, recorded: services.ItemResult
) -> None:
    assert recorded.decision is not None and recorded.access_code
    page.goto(f"{live_server.url}/portal/")

    page.get_by_label("Reference").fill(recorded.decision.public_reference)
    page.get_by_label("Code").fill(recorded.access_code)
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(f"{live_server.url}/portal/decision/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Declined")


def test_a_broken_link_explains_itself_with_no_violations(page: Page, live_server: LiveServer) -> None:
    response = page.goto(f"{live_server.url}/portal/open/not-a-real-token")

    assert response is not None and response.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    axe_check(page)
    page.get_by_role("link", name="Type your reference and code").click()
    expect(page).to_have_url(f"{live_server.url}/portal/")
