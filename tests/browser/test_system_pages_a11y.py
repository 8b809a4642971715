"""The published system explanation (S4) in Chromium: the list of systems and each system's page (current
and earlier version, English and Spanish, suspended, not found) have zero WCAG 2.2 AA violations, fit a
small phone without sideways scrolling, load only the project's own assets, and work with no sign-in."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from core.actors import SYSTEM
from decisions import services
from decisions.models import DecisionSystem
from tests.browser.support import (
    DESKTOP,
    PHONE,
    assert_no_external_requests,
    assert_stylesheets_loaded,
    axe_check,
    screenshot,
)
from tests.factories import SystemVersionFactory, decision_payload, live_system, populate_version

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]


@pytest.fixture
def system() -> DecisionSystem:
    """A live credit system with two versions and a few decisions (so the automation share shows)."""
    system, version = live_system(name="Card limits", purpose="Decide the credit limit on card applications.")
    for _ in range(2):
        services.decision_record(data=decision_payload(system, version), actor=SYSTEM)
    populate_version(SystemVersionFactory.create(system=system, version="2.0"))
    return system


def _no_sideways_scroll(page: Page) -> None:
    """WCAG 1.4.10 Reflow: the page is never wider than the window."""
    assert page.viewport_size is not None
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (
        f"{width}px of content in a {page.viewport_size['width']}px window"
    )


def _check(page: Page, address: str, *, status: int = 200) -> None:
    response = page.goto(address)
    assert response is not None and response.status == status
    assert assert_stylesheets_loaded(page) == 1
    axe_check(page)
    _no_sideways_scroll(page)
    assert_no_external_requests(page)


@pytest.mark.parametrize("viewport", SIZES)
def test_the_list_of_systems_has_no_accessibility_violations(
    page: Page, live_server: LiveServer, system: DecisionSystem, viewport: Any
) -> None:
    _check(page, f"{live_server.url}/portal/systems/")

    expect(page.get_by_role("heading", level=1)).to_have_text("How our decision systems work")
    page.get_by_role("link", name="Card limits").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Card limits")


@pytest.mark.parametrize("viewport", SIZES)
def test_a_system_page_has_no_accessibility_violations_in_english_and_spanish(
    page: Page, live_server: LiveServer, system: DecisionSystem, viewport: Any
) -> None:
    address = f"{live_server.url}/portal/systems/{system.slug}/"

    _check(page, address)
    expect(page.get_by_role("heading", level=2, name="The information it uses")).to_be_visible()
    if viewport["width"] < 600:
        screenshot(page, "system-page-phone")

    page.get_by_role("link", name="Español").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=2, name="Los datos que usa")).to_be_visible()
    axe_check(page)
    _no_sideways_scroll(page)
    assert_no_external_requests(page)


@pytest.mark.parametrize("viewport", [PHONE])
def test_an_earlier_version_and_a_suspended_system_have_no_accessibility_violations(
    page: Page, live_server: LiveServer, system: DecisionSystem, viewport: Any
) -> None:
    address = f"{live_server.url}/portal/systems/{system.slug}/"
    _check(page, address)
    page.get_by_role("link", name="Version 1.0").click()
    expect(page.get_by_text("It is not the version in use now.")).to_be_visible()
    axe_check(page)
    _no_sideways_scroll(page)

    services.system_suspend(system=system, actor=SYSTEM, reason="checking")
    _check(page, address)
    expect(page.get_by_role("region", name="Important")).to_contain_text("This system is suspended.")


@pytest.mark.parametrize("viewport", [PHONE])
def test_a_draft_system_is_a_not_found_page_with_no_accessibility_violations(
    page: Page, live_server: LiveServer, viewport: Any
) -> None:
    draft, _ = live_system(status=DecisionSystem.Status.DRAFT)

    _check(page, f"{live_server.url}/portal/systems/{draft.slug}/", status=404)

    expect(page.get_by_role("heading", level=1)).to_have_text("We could not find this system")
