"""End to end, on a 375x667 phone, as a new user would: the link in the real notice from the outbox opens
the decision; the person appeals with a document; a reviewer claims the case, opens the statement and the
document and overturns the decision (through the appeals services: the reviewer pages are their own
feature); the person sees the outcome, its reasons and the new decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from appeals import services
from appeals.models import Appeal
from appeals.workflow import State
from decisions.models import Decision
from notifications.models import Notice
from tests.browser.support import PHONE, assert_no_external_requests, axe_check, screenshot
from tests.browser.test_portal_journeys import fits_the_window
from tests.portal.conftest import PDF
from tests.portal.demo_case import demo_decision, link_from_outbox, queue_reviewer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STATEMENT = "I started a better paid job in March. Your file still shows my old pay. My payslip is attached."
RATIONALE = (
    "The payslip shows a monthly income well above the figure the scorecard used; with the right income "
    "the application reaches the threshold."
)


def _continue(page: Page) -> None:
    page.get_by_role("button", name="Continue", exact=True).click()


@pytest.mark.parametrize("viewport", [PHONE])
def test_from_the_notice_to_the_outcome_on_a_phone(
    page: Page, live_server: LiveServer, viewport: Any, settings: Any, tmp_path: Path
) -> None:
    settings.SITE_URL = live_server.url  # the links in the notices point at this server
    settings.MEDIA_ROOT = tmp_path / "private"
    decision, _code = demo_decision()
    link = link_from_outbox(decision)
    assert link.startswith(f"{live_server.url}/portal/open/")

    # The notice's link opens the decision at a clean address.
    page.goto(link)
    expect(page).to_have_url(f"{live_server.url}/portal/decision/")
    expect(page.get_by_role("heading", level=1)).to_have_text(decision.outcome.label["en"])
    expect(page.locator("#status")).to_contain_text("You can appeal until")

    # The appeal, with a document.
    page.get_by_role("link", name="Appeal this decision").first.click()
    page.get_by_role("button", name="Start now").click()
    page.get_by_label("Why do you think the decision is wrong?").fill(STATEMENT)
    _continue(page)
    page.get_by_label("What do you want us to do instead? (optional)").fill("Give me the card I applied for.")
    _continue(page)
    payslip = tmp_path / "payslip-march.pdf"
    payslip.write_bytes(PDF)
    page.get_by_label("Choose a document").set_input_files(str(payslip))
    page.get_by_role("button", name="Add document").click()
    expect(page.locator("dt", has_text="payslip-march.pdf")).to_be_visible()
    _continue(page)
    page.get_by_label("No, I am appealing for myself").check()
    _continue(page)
    _continue(page)  # no help needed
    page.get_by_label("By email").check()
    _continue(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Check your answers before you send your appeal"
    )
    page.get_by_role("button", name="Send appeal").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Appeal sent")
    appeal = Appeal.objects.get(decision=decision)
    expect(page.locator(".panel-confirmation")).to_contain_text(appeal.reference)
    expect(page.get_by_text("We will tell you the outcome by")).to_be_visible()
    assert appeal.status == State.QUEUED
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.STAYED
    (evidence,) = appeal.evidence.all()
    assert evidence.original_name == "payslip-march.pdf"

    # A reviewer decides.
    reviewer = queue_reviewer(decision)
    claimed = services.review_claim_next(reviewer=reviewer)
    assert claimed is not None and claimed.pk == appeal.pk
    services.evidence_open(appeal=claimed, reviewer=reviewer)
    services.evidence_open(appeal=claimed, reviewer=reviewer, evidence=evidence)
    services.review_decide(
        appeal=claimed,
        reviewer=reviewer,
        outcome="overturned",
        rationale=RATIONALE,
        evidence_relied_on=["statement", str(evidence.pk)],
        remedy=["reinstatement"],
    )

    # The person sees the outcome on the appeal's page.
    page.get_by_role("link", name="See your appeal").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Appeal {appeal.reference}")
    outcome = page.locator("#outcome")
    expect(outcome).to_contain_text("We changed the decision in your favour.")
    expect(outcome).to_contain_text("Credit limit approved")
    expect(outcome).to_contain_text(RATIONALE)
    expect(outcome).to_contain_text("Your file: payslip-march.pdf")
    expect(outcome).to_contain_text("We will put things back as they were before the decision.")
    axe_check(page)
    fits_the_window(page)
    assert_no_external_requests(page)
    screenshot(page, "portal-appeal-outcome-phone", full_page=False)

    # The decision page says it was replaced and the outcome notice is in the inbox.
    page.get_by_role("link", name="Back to your decision").click()
    expect(page.get_by_role("region", name="Important")).to_contain_text(
        "This decision was replaced by decision"
    )
    outcome_notice = Notice.objects.filter(
        topic_id=str(appeal.pk), channel="portal", kind="decision_reversed"
    ).get()
    expect(page.locator("#inbox + ul")).to_contain_text(outcome_notice.subject)
    new = Appeal.objects.get(pk=appeal.pk).resulting_decision
    assert new is not None
    page.get_by_role("link", name=f"See decision {new.public_reference}").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Credit limit approved")
    axe_check(page)
    fits_the_window(page)
