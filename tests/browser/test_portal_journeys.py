"""The portal's journeys in Chromium, on a desktop window and on a 375x667 phone: every page and every
error state has zero WCAG 2.2 AA violations (axe-core) and fits the window; focus moves to the error
summary on errors; every value survives a failed submission; and the whole appeal can be sent with the
keyboard alone (Tab, Enter and Space).

Cases come from the demo's credit system (tests/portal/demo_case.py). ``SAVE_SCREENSHOTS=1`` saves the main
pages under docs/screenshots/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from appeals.models import Appeal
from decisions import access
from decisions.models import Decision
from tests.browser.support import (
    DESKTOP,
    PHONE,
    assert_no_external_requests,
    axe_check,
    focused_element,
    screenshot,
)
from tests.browser.test_portal_a11y import _fits_the_window as fits_the_window
from tests.portal.conftest import JPEG, PDF
from tests.portal.demo_case import demo_decision

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]
STATEMENT = "My pay went up in March when I started a new job. Your file still shows my old pay."


@pytest.fixture(autouse=True)
def _private_media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "private"


# ------------------------------------------------------------------------------------------ helpers


def size_of(page: Page) -> str:
    assert page.viewport_size is not None
    return "phone" if page.viewport_size["width"] < 600 else "desktop"


def checked(
    page: Page, shot: str = "", *, full_page: bool = False, sizes: tuple[str, ...] = ("phone",)
) -> None:
    """Zero axe violations, fits the window, nothing loaded from elsewhere; a screenshot if asked (by default
    on the phone only, to keep docs/screenshots small)."""
    axe_check(page)
    fits_the_window(page)
    assert_no_external_requests(page)
    if shot and size_of(page) in sizes:
        screenshot(page, f"portal-{shot}-{size_of(page)}", full_page=full_page)


def focus_on_error_summary(page: Page) -> None:
    """The error summary has focus (autofocus: the browser moves focus when it next draws the page)."""
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    expect(page.locator(".error-summary")).to_be_focused()


def press(page: Page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()


def file(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def open_case(page: Page, live_server: LiveServer, decision: Decision) -> None:
    token = access.decision_link_token(decision.pk, valid_days=access.link_validity_days(decision.system))
    page.goto(f"{live_server.url}/portal/open/{token}")
    expect(page).to_have_url(f"{live_server.url}/portal/decision/")


def field(page: Page, label: str) -> Locator:
    return page.get_by_label(label, exact=True)


# ------------------------------------------------------------------------------------------ every page


@pytest.mark.parametrize("viewport", SIZES)
def test_every_page_and_error_of_the_appeal_journey_has_no_violations(
    page: Page, live_server: LiveServer, viewport: Any, tmp_path: Path
) -> None:
    decision, _code = demo_decision()
    open_case(page, live_server, decision)
    checked(page, "decision", sizes=("phone", "desktop"))

    page.get_by_role("link", name="Appeal this decision").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Appeal this decision")
    checked(page)
    page.get_by_role("button", name="Start now").click()

    # Why the decision is wrong: the error state first.
    press(page, "Continue")
    focus_on_error_summary(page)
    checked(page, "appeal-error")
    field(page, "Why do you think the decision is wrong?").fill(STATEMENT)
    press(page, "Continue")

    expect(page.get_by_role("heading", level=1)).to_have_text("What do you want us to do instead? (optional)")
    checked(page)
    field(page, "What do you want us to do instead? (optional)").fill("Give me the limit I asked for.")
    press(page, "Continue")

    # Documents: a file that is not what its name says is refused and explained; the good one is kept.
    expect(page.get_by_role("heading", level=1)).to_have_text("Add documents (optional)")
    checked(page)
    page.get_by_label("Choose a document").set_input_files(
        [file(tmp_path, "payslip.pdf", PDF), file(tmp_path, "photo.pdf", b"GIF89a not a pdf")]
    )
    press(page, "Add document")
    focus_on_error_summary(page)
    expect(page.get_by_role("alert")).to_contain_text("“photo.pdf” is not a PDF, JPG or PNG.")
    expect(page.locator("dt", has_text="payslip.pdf")).to_be_visible()
    checked(page)
    page.get_by_label("Choose another document").set_input_files([file(tmp_path, "letter.jpg", JPEG)])
    press(page, "Add document")
    expect(page.get_by_role("heading", name="Documents you added (2)")).to_be_visible()
    checked(page, "appeal-documents", full_page=True)
    press(page, "Continue")

    press(page, "Continue")
    focus_on_error_summary(page)
    checked(page)
    page.get_by_label("Yes, I am appealing for someone else").check()
    press(page, "Continue")

    press(page, "Continue")
    focus_on_error_summary(page)
    checked(page)
    field(page, "Your full name").fill("Ana Ruiz")
    field(page, "How can you act for them?").fill("My father signed a letter that lets me act for him.")
    press(page, "Continue")

    checked(page)
    press(page, "Continue")  # no help needed

    # Contact: post reveals the address question; without it the error comes back with post still chosen.
    page.get_by_label("By post").check()
    expect(field(page, "Your postal address")).to_be_visible()
    checked(page)
    press(page, "Continue")
    focus_on_error_summary(page)
    expect(page.get_by_label("By post")).to_be_checked()
    checked(page)
    field(page, "Your postal address").fill("12 Hill Road\nLeeds LS1 4AB")
    press(page, "Continue")

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Check your answers before you send your appeal"
    )
    expect(page.get_by_text(STATEMENT)).to_be_visible()
    checked(page, "appeal-check", full_page=True)
    press(page, "Send appeal")

    expect(page.get_by_role("heading", level=1)).to_have_text("Appeal sent")
    appeal = Appeal.objects.get(decision=decision)
    expect(page.get_by_text(appeal.reference)).to_be_visible()
    checked(page, "appeal-sent")

    page.get_by_role("link", name="View and print your receipt").click()
    checked(page)
    page.get_by_role("link", name="Back to your appeal").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Appeal {appeal.reference}")
    checked(page)
    page.get_by_role("button", name="Send message").click()
    focus_on_error_summary(page)
    checked(page)
    page.get_by_role("link", name=f"Withdraw appeal {appeal.reference}").click()
    checked(page)

    page.goto(f"{live_server.url}/portal/case-file/")
    checked(page)
    page.goto(f"{live_server.url}/portal/decision/")
    page.locator("#inbox").locator("xpath=following-sibling::ul[1]").get_by_role("link").first.click()
    checked(page)


@pytest.mark.parametrize("viewport", [PHONE])
def test_a_spanish_reader_gets_the_decision_in_spanish_with_no_violations(
    page: Page, live_server: LiveServer, viewport: Any
) -> None:
    decision, _code = demo_decision(language="es")
    open_case(page, live_server, decision)
    assert page.locator("html").get_attribute("lang") == "es"
    expect(page.get_by_role("heading", level=1)).to_have_text(decision.outcome.label["es"])
    expect(page.locator("#status")).to_contain_text("Puede apelar hasta el")
    expect(page.get_by_role("link", name="Apelar esta decisión").first).to_be_visible()
    expect(page.get_by_role("heading", name="Los motivos principales")).to_be_visible()
    checked(page, "decision-es")


@pytest.mark.parametrize("viewport", SIZES)
def test_the_dispute_and_question_pages_have_no_violations(
    page: Page, live_server: LiveServer, viewport: Any
) -> None:
    decision, _code = demo_decision()
    open_case(page, live_server, decision)
    page.get_by_role("link", name="This is wrong").first.click()
    checked(page)
    press(page, "Continue")
    focus_on_error_summary(page)
    checked(page)
    page.locator("textarea").fill("I have paid every bill on time for two years.")
    press(page, "Continue")
    checked(page)
    press(page, "Continue")
    checked(page)
    press(page, "Continue")
    checked(page)
    press(page, "Send")
    expect(page.get_by_role("heading", level=1)).to_have_text("We will check your information")
    checked(page)
    page.get_by_role("link", name="See the check").click()
    press(page, "Send")
    focus_on_error_summary(page)
    checked(page)

    page.goto(f"{live_server.url}/portal/explanation/start/")
    press(page, "Continue")
    focus_on_error_summary(page)
    checked(page)
    field(page, "What do you want to know about this decision?").fill("How much did my income count?")
    press(page, "Continue")
    checked(page)
    press(page, "Send question")
    expect(page.get_by_role("heading", level=1)).to_have_text("Question sent")
    checked(page)
    page.get_by_role("link", name="See your question").click()
    checked(page)


@pytest.mark.parametrize("viewport", SIZES)
def test_the_appeal_page_with_a_question_and_messages_has_no_violations(
    page: Page, live_server: LiveServer, viewport: Any
) -> None:
    from appeals import messaging, services
    from core.actors import Actor
    from tests.portal.demo_case import queue_reviewer

    decision, _code = demo_decision()
    appeal = services.appeal_file(
        decision=decision, statement=STATEMENT, actor=Actor.subject(decision.subject.pseudonym)
    )
    reviewer = queue_reviewer(decision)
    claimed = services.review_claim_next(reviewer=reviewer)
    assert claimed is not None
    services.information_request(appeal=claimed, reviewer=reviewer, question="When did the new job start?")
    messaging.message_post(
        appeal=claimed, author_kind="reviewer", body="Thank you for your appeal.", actor=reviewer
    )
    open_case(page, live_server, decision)
    page.goto(f"{live_server.url}/portal/appeals/{appeal.reference}/")
    expect(page.locator("strong.tag")).to_have_text("We need an answer from you")
    checked(page)
    press(page, "Send answer")
    focus_on_error_summary(page)
    checked(page)
    field(page, "Your answer").fill("On 3 March.")
    press(page, "Send answer")
    expect(page.get_by_role("region", name="Done")).to_contain_text("Your answer was sent to your reviewer.")
    checked(page)


def test_the_lockout_and_not_found_pages_have_no_violations(page: Page, live_server: LiveServer) -> None:
    decision, _code = demo_decision()
    page.goto(f"{live_server.url}/portal/")
    for _ in range(5):
        page.get_by_label("Reference").fill(decision.public_reference)
        page.get_by_label("Code").fill("WRONGCDE")
        press(page, "Continue")
    expect(page.get_by_role("alert")).to_contain_text("You typed a wrong code too many times.")
    focus_on_error_summary(page)
    checked(page)
    open_case(page, live_server, decision)
    page.goto(f"{live_server.url}/portal/appeals/APL-0000-0000/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    checked(page)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You have signed out")
    checked(page)


# ------------------------------------------------------------------------------------------ values survive


def test_every_value_survives_a_failed_submission(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    decision, _code = demo_decision()
    open_case(page, live_server, decision)
    base = f"{live_server.url}/portal/appeal"
    page.goto(f"{base}/reason/")
    field(page, "Why do you think the decision is wrong?").fill(STATEMENT)
    press(page, "Continue")
    page.goto(f"{base}/someone-else/")
    page.get_by_label("Yes, I am appealing for someone else").check()
    press(page, "Continue")

    # A bad email address: every other value on the page is given back as typed.
    field(page, "Your full name").fill("Ana Ruiz")
    field(page, "How can you act for them?").fill("Power of attorney since 2024.")
    field(page, "Your email address (optional)").fill("ana at example")
    field(page, "Your phone number (optional)").fill("+44 20 7946 0001")
    press(page, "Continue")
    focus_on_error_summary(page)
    expect(field(page, "Your full name")).to_have_value("Ana Ruiz")
    expect(field(page, "How can you act for them?")).to_have_value("Power of attorney since 2024.")
    expect(field(page, "Your email address (optional)")).to_have_value("ana at example")
    expect(field(page, "Your phone number (optional)")).to_have_value("+44 20 7946 0001")

    # A phone number that is not one: the choice and the text stay.
    page.goto(f"{base}/contact/")
    page.get_by_label("By phone").check()
    field(page, "Your phone number").fill("ring me")
    press(page, "Continue")
    focus_on_error_summary(page)
    expect(page.get_by_label("By phone")).to_be_checked()
    expect(field(page, "Your phone number")).to_have_value("ring me")

    # A statement over the limit comes back whole.
    page.goto(f"{base}/reason/")
    long = "word " * 4001
    field(page, "Why do you think the decision is wrong?").fill(long)
    press(page, "Continue")
    focus_on_error_summary(page)
    expect(field(page, "Why do you think the decision is wrong?")).to_have_value(long.strip())

    # A refused document leaves the earlier answers and documents in place.
    page.goto(f"{base}/documents/")
    page.get_by_label("Choose a document").set_input_files([file(tmp_path, "ok.pdf", PDF)])
    press(page, "Add document")
    page.get_by_label("Choose another document").set_input_files([file(tmp_path, "bad.png", b"not an image")])
    press(page, "Add document")
    focus_on_error_summary(page)
    expect(page.locator("dt", has_text="ok.pdf")).to_be_visible()
    # The refused statement was never saved: the one sent before it is still the answer.
    page.goto(f"{base}/reason/")
    expect(field(page, "Why do you think the decision is wrong?")).to_have_value(STATEMENT)


# ------------------------------------------------------------------------------------------ keyboard only


def _tab_to(page: Page, matches: Any, *, most: int = 80) -> dict[str, Any]:
    """Press Tab until the focused element matches; fail if it never does."""
    for _ in range(most):
        page.keyboard.press("Tab")
        el = focused_element(page)
        if matches(el):
            return el
    raise AssertionError(f"Tab never reached the element on {page.url}")


def _enter(page: Page) -> None:
    """Press Enter on a link or button and wait for the next page."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def _text_is(text: str) -> Any:
    return lambda el: el.get("text", "").strip().startswith(text)


def _id_is(value: str) -> Any:
    return lambda el: el.get("id") == value


@pytest.mark.parametrize("viewport", SIZES)
def test_the_whole_appeal_can_be_sent_with_tab_enter_and_space_only(
    page: Page, live_server: LiveServer, viewport: Any, tmp_path: Path
) -> None:
    decision, _code = demo_decision()
    open_case(page, live_server, decision)
    kb = page.keyboard

    _tab_to(page, _text_is("Appeal this decision"))
    _enter(page)
    _tab_to(page, _text_is("Start now"))
    _enter(page)

    _tab_to(page, _id_is("statement"))
    kb.type(STATEMENT)
    _tab_to(page, _text_is("Continue"))
    _enter(page)

    _tab_to(page, _id_is("requested_remedy"))
    kb.type("Give me the limit I asked for.")
    _tab_to(page, _text_is("Continue"))
    _enter(page)

    # Documents: the file field opens the chooser with Space.
    _tab_to(page, _id_is("documents"))
    with page.expect_file_chooser() as chooser:
        kb.press("Space")
    chooser.value.set_files(file(tmp_path, "payslip.pdf", PDF))
    _tab_to(page, _text_is("Add document"))
    _enter(page)
    expect(page.locator("dt", has_text="payslip.pdf")).to_be_visible()
    _tab_to(page, _text_is("Continue"))
    _enter(page)

    _tab_to(page, _id_is("filed_by"))  # the first option: "No, I am appealing for myself"
    kb.press("Space")
    _tab_to(page, _text_is("Continue"))
    _enter(page)

    _tab_to(page, _id_is("accessibility_needs"))
    kb.type("Please write in large print.")
    _tab_to(page, _text_is("Continue"))
    _enter(page)

    _tab_to(page, _id_is("contact_preference"))  # the first option: by email
    kb.press("Space")
    _tab_to(page, _text_is("Continue"))
    _enter(page)

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Check your answers before you send your appeal"
    )
    _tab_to(page, _text_is("Send appeal"))
    _enter(page)

    expect(page.get_by_role("heading", level=1)).to_have_text("Appeal sent")
    appeal = Appeal.objects.get(decision=decision)
    assert appeal.statement == STATEMENT
    assert appeal.contact_preference == "email"
    assert appeal.filed_by == "person"
    assert [f.original_name for f in appeal.evidence.all()] == ["payslip.pdf"]
    assert appeal.contact.accessibility_needs == "Please write in large print."


def test_an_error_summary_link_takes_the_keyboard_to_the_field(page: Page, live_server: LiveServer) -> None:
    decision, _code = demo_decision()
    open_case(page, live_server, decision)
    page.goto(f"{live_server.url}/portal/appeal/reason/")
    press(page, "Continue")
    focus_on_error_summary(page)
    page.keyboard.press("Tab")
    assert focused_element(page).get("text") == "Enter why you think the decision is wrong"
    page.keyboard.press("Enter")
    assert focused_element(page).get("id") == "statement"
    expect(field(page, "Why do you think the decision is wrong?")).to_have_accessible_description(
        "Tell us in your own words. For example, some information we used is out of date, or something "
        "important was missed. You can write up to 20,000 characters. "
        "Error: Enter why you think the decision is wrong"
    )
