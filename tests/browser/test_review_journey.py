"""The reviewer's journey in Chromium, as a new reviewer would try it: sign in, press "Next case", open the
person's statement and evidence, decide to overturn; then the person's notice, the reversed decision and the
integrator's webhook all show it. The queue and case pages have no WCAG 2.2 AA violations (axe-core), and
the keyboard shortcuts work but stay off while typing.

The appeal is filed through the appeals service, exactly as the portal or an integrator's API call would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from appeals.models import Appeal
from appeals.workflow import State
from decisions.models import Decision
from notifications.models import Notice, WebhookMessage
from tests.appeals.conftest import PDF, RATIONALE, STATEMENT, World, make_world
from tests.browser.support import (
    PHONE,
    assert_no_external_requests,
    assert_stylesheets_loaded,
    axe_check,
    focused_element,
    screenshot,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple 7"


@pytest.fixture
def world(settings: Any, tmp_path: Path) -> World:
    settings.MEDIA_ROOT = tmp_path / "private"
    w = make_world()
    w.alice.set_password(PASSWORD)
    w.alice.save(update_fields=["password"])
    return w


def sign_in(page: Page, live_server: LiveServer, w: World) -> None:
    page.goto(f"{live_server.url}/review/")  # the login page, then back here
    page.get_by_label("Username").fill(w.alice.get_username())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My queues")
    # The heading can show before the stylesheet and the deferred shortcuts script are in: wait for them,
    # as a person's first key press would on a slow machine.
    page.wait_for_load_state("load")


def test_a_reviewer_signs_in_presses_next_case_opens_everything_and_overturns(
    page: Page, live_server: LiveServer, world: World
) -> None:
    appeal = world.appeal(evidence=[("payslip.pdf", PDF)])
    sign_in(page, live_server, world)
    assert assert_stylesheets_loaded(page) == 2
    expect(page.get_by_role("cell", name="30 days to breach").first).to_be_visible()
    axe_check(page)
    screenshot(page, "review-queues")

    page.get_by_role("button", name="Next case").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Appeal {appeal.reference}")
    expect(page.get_by_text(f"You now hold {appeal.reference}.")).to_be_visible()
    axe_check(page)
    screenshot(page, "review-case")

    # Deciding first is refused: the error summary takes focus and lists what is missing (S21).
    page.get_by_role("radio", name="Overturned").check()
    page.get_by_label("Reasons for the outcome").fill(RATIONALE)
    page.get_by_role("button", name="Record the outcome").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Open the statement and every file before deciding")
    assert "error-summary" in focused_element(page).get("classes", []), focused_element(page)
    expect(page.get_by_label("Reasons for the outcome")).to_have_value(RATIONALE)
    axe_check(page)

    page.get_by_role("button", name="Open the statement").click()
    expect(page.get_by_text(STATEMENT)).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Open payslip.pdf").click()
    assert Path(download.value.path()).read_bytes() == PDF
    assert download.value.suggested_filename == "payslip.pdf"
    page.reload()
    expect(page.get_by_text("Not opened by you")).to_have_count(0)

    page.get_by_role("radio", name="Overturned").check()
    page.get_by_label("Reasons for the outcome").fill(RATIONALE)
    page.get_by_label("File: payslip.pdf").check()
    page.get_by_label("Records corrected").check()
    page.get_by_role("button", name="Record the outcome").click()

    expect(page.get_by_text("The outcome is recorded.")).to_be_visible()
    appeal.refresh_from_db()
    assert appeal.status == State.DECIDED and appeal.outcome == "overturned"
    assert Decision.objects.get(pk=appeal.decision_id).status == Decision.Status.REVERSED
    assert appeal.resulting_decision is not None and not appeal.resulting_decision.adverse
    expect(page.get_by_text(appeal.resulting_decision.public_reference).first).to_be_visible()
    reversed_notices = Notice.objects.filter(
        topic_type="appeals.appeal", topic_id=str(appeal.pk), kind="decision_reversed"
    )
    assert reversed_notices.filter(channel="portal").exists()
    hook = WebhookMessage.objects.get(event_type="appeal.decided")
    assert hook.payload["outcome"] == "overturned"
    axe_check(page)
    assert_no_external_requests(page)


def test_keyboard_shortcuts_move_claim_and_help_but_stay_off_while_typing(
    page: Page, live_server: LiveServer, world: World
) -> None:
    first = world.appeal()
    world.appeal()
    sign_in(page, live_server, world)

    # ? opens the help as an overlay and Esc closes it.
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_have_attribute("open", "")
    axe_check(page)
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts")).not_to_have_attribute("open", "")

    # j and k move between rows of a list.
    page.keyboard.press("j")
    first_row = focused_element(page)
    page.keyboard.press("j")
    second_row = focused_element(page)
    assert first_row["tag"] == "a" and second_row["tag"] == "a" and first_row != second_row
    page.keyboard.press("k")
    assert focused_element(page) == first_row

    # Typed into a field, the same keys are just letters: nothing is claimed, nothing moves.
    status = page.get_by_label("Status")
    status.focus()
    page.keyboard.press("n")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).not_to_have_attribute("open", "")
    assert page.url.endswith("/review/") and Appeal.objects.filter(claimed_by__isnull=False).count() == 0

    # n claims the next case and opens it.
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("n")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Appeal {first.reference}")

    # On the case page, letters typed into the reasons stay there.
    reasons = page.get_by_label("Reasons for the outcome")
    reasons.click()
    page.keyboard.type("n j k ?")
    expect(reasons).to_have_value("n j k ?")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Appeal {first.reference}")
    assert Appeal.objects.filter(claimed_by=world.alice).count() == 1


def test_the_pages_work_without_javascript(browser: Any, live_server: LiveServer, world: World) -> None:
    """Every shortcut has a visible button or link: with scripts off the reviewer still claims a case."""
    appeal = world.appeal()
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, live_server, world)
        page.get_by_role("button", name="Next case").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Appeal {appeal.reference}")
        page.get_by_text("Keyboard shortcuts").first.click()
        expect(page.get_by_text("Next case: claim and open the next case in your queues")).to_be_visible()
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [PHONE])
def test_the_case_page_fits_a_phone_without_violations(
    page: Page, live_server: LiveServer, world: World, viewport: Any
) -> None:
    world.claimed(evidence=[("payslip.pdf", PDF)])
    sign_in(page, live_server, world)
    page.get_by_role("link", name=Appeal.objects.get().reference).first.click()

    expect(page.get_by_role("heading", name="The decision")).to_be_visible()
    axe_check(page)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the case page is {width}px wide on a {PHONE['width']}px phone"
    screenshot(page, "review-case-phone")
