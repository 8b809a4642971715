"""The appeal journey (S16-S18): one question per page, answers kept through every mistake, check your
answers with a Change link per answer, "Send appeal" files the appeal with its documents in one go, and a
confirmation with the reference, the date we answer by and a receipt."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from appeals.models import Appeal, AppealContact, EvidenceFile
from appeals.workflow import State
from core.models import AuditEvent
from decisions.models import Decision
from portal.uploads import HELD_DIR
from tests.portal.conftest import (
    APPEAL_ANSWERS,
    JPEG,
    PDF,
    PNG,
    STATEMENT,
    Case,
    errors_of,
    page,
    record_case,
    sign_in,
    upload,
    walk,
)

pytestmark = pytest.mark.django_db

START = "/portal/appeal/"
CHECK = "/portal/appeal/check/"


@pytest.fixture
def person(client: Client, case: Case) -> Client:
    sign_in(client, case.decision)
    return client


def _held_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / HELD_DIR
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# ------------------------------------------------------------------------------------------ pages


def test_the_start_page_gives_the_deadline_says_it_is_free_and_lists_what_we_will_ask(person: Client) -> None:
    html = page(person.get(START))
    assert "Appeal this decision" in html
    assert "You can appeal until" in html
    assert "Appealing is free. You do not need a lawyer." in html
    assert "why you think the decision is wrong" in html
    assert 'href="/portal/appeal/reason/"' in html
    # The system stays effects on appeal, and the page says so before anyone starts.
    assert "we will not apply this decision until a person has decided on your appeal" in html


def test_each_question_is_its_own_page_and_continue_leads_to_the_next(person: Client) -> None:
    expected = ["/portal/appeal/outcome/", "/portal/appeal/documents/", "/portal/appeal/someone-else/",
                "/portal/appeal/help/", "/portal/appeal/contact/", CHECK]  # fmt: skip
    for (slug, data), following in zip(APPEAL_ANSWERS, expected, strict=True):
        html = page(person.get(f"/portal/appeal/{slug}/"))
        assert html.count("<h1") == 1
        response = person.post(f"/portal/appeal/{slug}/", data)
        assert response.status_code == 302 and response["Location"] == following


def test_a_question_left_empty_shows_the_error_summary_and_the_error_beside_the_field(person: Client) -> None:
    response = person.post("/portal/appeal/reason/", {"statement": "   "})
    html = page(response)
    assert response.status_code == 400
    assert errors_of(response) == ["Enter why you think the decision is wrong"]
    assert "<title>There is a problem: Why do you think the decision is wrong?" in html
    assert '<a href="#statement">Enter why you think the decision is wrong</a>' in html
    assert 'id="statement-error"' in html
    assert 'aria-describedby="statement-hint statement-limit statement-error"' in html
    assert "autofocus" in html  # the summary takes focus, with no script


def test_a_statement_that_is_too_long_is_refused_and_given_back_whole(person: Client) -> None:
    long = "x" * 20001
    response = person.post("/portal/appeal/reason/", {"statement": long})
    assert response.status_code == 400
    assert errors_of(response) == [
        "This must be 20,000 characters or fewer. You can add the rest as a document."
    ]
    assert f">{long}</textarea>" in page(response)


def test_the_representative_questions_come_only_for_someone_else_and_keep_every_value(person: Client) -> None:
    walk(person, "appeal", APPEAL_ANSWERS[:3])
    response = person.post("/portal/appeal/someone-else/", {"filed_by": "representative"})
    assert response["Location"] == "/portal/appeal/representative/"
    typed = {"rep_name": "", "authority": "", "rep_email": "not-an-email", "rep_phone": "12"}
    response = person.post("/portal/appeal/representative/", typed)
    assert errors_of(response) == [
        "Enter your full name",
        "Enter how you can act for them",
        "Enter an email address in the right form, like name@example.com",
        "Enter a phone number, like 01632 960 001 or +34 600 000 000",
    ]
    html = page(response)
    assert 'value="not-an-email"' in html and 'value="12"' in html
    good = {
        "rep_name": "Ana Ruiz",
        "authority": "My mother signed a letter that lets me act for her.",
        "rep_email": "ana@example.org",
        "rep_phone": "+34 600 111 222",
    }
    assert person.post("/portal/appeal/representative/", good)["Location"] == "/portal/appeal/help/"
    # Choosing "myself" afterwards skips the page again.
    person.post("/portal/appeal/someone-else/", {"filed_by": "person"})
    assert person.get("/portal/appeal/representative/")["Location"] == "/portal/appeal/help/"


def test_the_hearing_question_is_asked_only_where_the_system_offers_hearings(
    client: Client, case: Case
) -> None:
    sign_in(client, case.decision)
    walk(client, "appeal", APPEAL_ANSWERS[:3])
    assert (
        client.post("/portal/appeal/someone-else/", {"filed_by": "person"})["Location"]
        == "/portal/appeal/help/"
    )
    assert client.get("/portal/appeal/hearing/")["Location"] == "/portal/appeal/help/"

    other = Client()
    offered = record_case(oral_hearing_allowed=True)
    sign_in(other, offered.decision)
    walk(other, "appeal", APPEAL_ANSWERS[:3])
    assert (
        other.post("/portal/appeal/someone-else/", {"filed_by": "person"})["Location"]
        == "/portal/appeal/hearing/"
    )
    response = other.post("/portal/appeal/hearing/", {})
    assert errors_of(response) == ["Select if you want to talk to the person who looks at your appeal"]
    assert (
        other.post("/portal/appeal/hearing/", {"oral_hearing": "yes"})["Location"] == "/portal/appeal/help/"
    )


def test_the_contact_question_asks_for_the_address_or_number_that_goes_with_the_choice(
    person: Client,
) -> None:
    response = person.post("/portal/appeal/contact/", {"contact_preference": "post", "postal_address": ""})
    assert errors_of(response) == ["Enter your postal address"]
    response = person.post("/portal/appeal/contact/", {"contact_preference": "phone", "phone": "call me"})
    assert errors_of(response) == ["Enter a phone number, like 01632 960 001 or +34 600 000 000"]
    assert 'value="call me"' in page(response)
    # A number typed under "phone" is not kept when the person then chooses post.
    person.post(
        "/portal/appeal/contact/", {"contact_preference": "post", "postal_address": "1 Main St", "phone": "x"}
    )
    answers = person.session["portal_journeys"][next(iter(person.session["portal_journeys"]))]["answers"]
    assert answers["postal_address"] == "1 Main St" and answers["phone"] == ""


def test_the_email_choice_is_offered_only_when_we_have_an_email_address(person: Client, case: Case) -> None:
    assert "By email" in page(person.get("/portal/appeal/contact/"))
    case.decision.subject.contact.email = ""
    case.decision.subject.contact.save()
    assert "By email" not in page(person.get("/portal/appeal/contact/"))


def test_check_answers_lists_every_answer_with_a_change_link_that_returns_there(person: Client) -> None:
    walk(person, "appeal", APPEAL_ANSWERS)
    html = page(person.get(CHECK))
    for expected in (
        STATEMENT,
        "Give me the credit limit I asked for.",
        "No documents",
        "Large print letters, please.",
        "Only on this website",
        'href="/portal/appeal/reason/?change=1#statement"',
        'href="/portal/appeal/documents/?change=1"',
        "Send appeal",
    ):
        assert expected in html, expected
    assert html.count(">Change<") == 6
    assert person.post("/portal/appeal/reason/?change=1", {"statement": "New words."})["Location"] == CHECK
    assert "New words." in page(person.get(CHECK))


def test_a_change_that_needs_a_new_question_asks_it_before_going_back_to_check(person: Client) -> None:
    walk(person, "appeal", APPEAL_ANSWERS)
    response = person.post("/portal/appeal/someone-else/?change=1", {"filed_by": "representative"})
    assert response["Location"] == "/portal/appeal/representative/?change=1"
    data = {"rep_name": "Ana Ruiz", "authority": "Power of attorney."}
    assert person.post("/portal/appeal/representative/?change=1", data)["Location"] == CHECK


def test_check_answers_sends_the_person_back_to_a_question_not_answered_yet(person: Client) -> None:
    walk(person, "appeal", APPEAL_ANSWERS[:2])
    assert person.get(CHECK)["Location"] == "/portal/appeal/documents/"


# ------------------------------------------------------------------------------------------ sending


def test_send_appeal_files_it_as_the_person_with_every_answer_and_document(
    person: Client, case: Case
) -> None:
    walk(person, "appeal", APPEAL_ANSWERS[:2])
    person.post(
        "/portal/appeal/documents/",
        {"documents": [upload("payslip.pdf", PDF), upload("letter.png", PNG)], "action": "upload"},
    )
    assert len(_held_files()) == 2
    walk(person, "appeal", [("documents", {"action": "continue"})])
    person.post("/portal/appeal/someone-else/", {"filed_by": "representative"})
    person.post(
        "/portal/appeal/representative/",
        {"rep_name": "Ana Ruiz", "authority": "Signed letter.", "rep_email": "ana@example.org"},
    )
    walk(person, "appeal", APPEAL_ANSWERS[4:5])
    person.post("/portal/appeal/contact/", {"contact_preference": "phone", "phone": "+34 600 111 222"})

    response = person.post(CHECK)

    appeal = Appeal.objects.get(decision=case.decision)
    assert response.status_code == 302 and response["Location"] == f"/portal/appeals/{appeal.reference}/sent/"
    assert appeal.status == State.QUEUED and appeal.channel == "portal"
    assert appeal.statement == STATEMENT
    assert appeal.requested_remedy == "Give me the credit limit I asked for."
    assert appeal.filed_by == "representative" and appeal.contact_preference == "phone"
    assert appeal.language == "en"
    contact = AppealContact.objects.get(appeal=appeal)
    assert (contact.representative_name, contact.authority, contact.representative_email) == (
        "Ana Ruiz",
        "Signed letter.",
        "ana@example.org",
    )
    assert (
        contact.phone == "+34 600 111 222" and contact.accessibility_needs == "Large print letters, please."
    )
    files = EvidenceFile.objects.filter(appeal=appeal).order_by("original_name")
    assert [(f.original_name, f.content_type) for f in files] == [
        ("letter.png", "image/png"),
        ("payslip.pdf", "application/pdf"),
    ]
    filed = AuditEvent.objects.get(action="appeal.filed", target_id=str(appeal.pk))
    assert (filed.actor_type, filed.actor_id) == ("subject", case.decision.subject.pseudonym)
    assert len(filed.data["evidence"]) == 2
    assert "Ana Ruiz" not in str(filed.data)  # no personal data in the audit log
    # The held copies are gone and the journey is forgotten.
    assert _held_files() == []
    assert person.session["portal_journeys"] == {}
    # The decision is on hold while the appeal is looked at (S18).
    assert Decision.objects.get(pk=case.decision.pk).status == Decision.Status.STAYED


def test_the_confirmation_gives_the_reference_the_date_we_answer_by_and_the_receipt(
    person: Client, case: Case
) -> None:
    walk(person, "appeal", APPEAL_ANSWERS)
    location = person.post(CHECK)["Location"]
    appeal = Appeal.objects.get(decision=case.decision)
    html = page(person.get(location))
    assert "Appeal sent" in html and appeal.reference in html
    due = appeal.due_date
    assert f"We will tell you the outcome by {due.day} {due.strftime('%B')} {due.year}." in html
    assert "We will not apply the decision until a person has decided on your appeal." in html
    receipt = page(person.get(f"/portal/appeals/{appeal.reference}/receipt/"))
    assert "Receipt for your appeal" in receipt and STATEMENT in receipt
    text = person.get(f"/portal/appeals/{appeal.reference}/receipt.txt")
    assert text["Content-Type"] == "text/plain; charset=utf-8"
    assert f'filename="appeal-{appeal.reference}.txt"' in text["Content-Disposition"]
    assert appeal.reference in text.content.decode() and STATEMENT in text.content.decode()


def test_after_sending_the_appeal_pages_lead_to_the_open_appeal(person: Client, case: Case) -> None:
    walk(person, "appeal", APPEAL_ANSWERS)
    person.post(CHECK)
    appeal = Appeal.objects.get(decision=case.decision)
    for path in (START, "/portal/appeal/reason/", CHECK):
        response = person.get(path)
        assert response.status_code == 302 and response["Location"] == f"/portal/appeals/{appeal.reference}/"
    # Pressing Send again does not file a second appeal.
    person.post(CHECK)
    assert Appeal.objects.filter(decision=case.decision).count() == 1


def test_a_refusal_by_the_service_is_explained_on_check_answers_and_nothing_is_lost(
    person: Client, case: Case, settings: Any
) -> None:
    walk(person, "appeal", APPEAL_ANSWERS[:2])
    files = [upload("a.pdf", PDF), upload("b.jpg", JPEG), upload("c.png", PNG)]
    person.post("/portal/appeal/documents/", {"documents": files, "action": "continue"})
    walk(person, "appeal", APPEAL_ANSWERS[3:])
    settings.APPEALS_EVIDENCE_MAX_FILES = 2  # the institution lowered its limit meanwhile

    response = person.post(CHECK)

    assert response.status_code == 422
    assert errors_of(response) == ["You can add up to 10 documents. Remove some documents and try again."]
    assert 'href="/portal/appeal/documents/?change=1"' in page(response)
    assert STATEMENT in page(response) and "a.pdf" in page(response)
    assert not Appeal.objects.filter(decision=case.decision).exists()
    assert len(_held_files()) == 3


def test_a_held_document_that_went_missing_is_asked_for_again(person: Client, case: Case) -> None:
    walk(person, "appeal", APPEAL_ANSWERS[:2])
    person.post("/portal/appeal/documents/", {"documents": [upload("a.pdf", PDF)], "action": "continue"})
    walk(person, "appeal", APPEAL_ANSWERS[3:])
    for path in _held_files():
        path.unlink()
    response = person.post(CHECK)
    assert errors_of(response) == ["A document you added is no longer here. Add your documents again."]
    assert not Appeal.objects.filter(decision=case.decision).exists()


# ------------------------------------------------------------------------------------------ who may appeal


def test_a_decision_in_the_persons_favour_cannot_be_appealed_and_the_page_says_why(client: Client) -> None:
    favourable = record_case(adverse=False)
    sign_in(client, favourable.decision)
    response = client.get(START)
    assert response.status_code == 409
    assert "This decision is in your favour, so there is nothing to appeal." in page(response)
    assert "Appeal this decision" not in page(client.get("/portal/decision/"))


def test_a_late_appeal_asks_why_it_is_late_and_sends_the_reason(
    person: Client, case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core import clock

    later = clock.now() + dt.timedelta(days=400)
    monkeypatch.setattr(clock, "now", lambda: later)
    html = page(person.get(START))
    assert "The last day to appeal was" in html
    person.post("/portal/appeal/reason/", {"statement": STATEMENT})
    assert person.get("/portal/appeal/outcome/").status_code == 200
    response = person.post("/portal/appeal/outcome/", {"requested_remedy": ""})
    walk(person, "appeal", APPEAL_ANSWERS[2:])
    assert person.get(CHECK)["Location"] == "/portal/appeal/late/"
    assert response.status_code == 302
    assert "Why are you appealing after" in page(person.get("/portal/appeal/late/"))
    assert errors_of(person.post("/portal/appeal/late/", {"good_cause": ""})) == [
        "Enter why you are appealing late"
    ]
    person.post("/portal/appeal/late/", {"good_cause": "I was in hospital."})
    person.post(CHECK)
    appeal = Appeal.objects.get(decision=case.decision)
    assert appeal.late and appeal.good_cause == "I was in hospital."
    assert appeal.status == State.SUBMITTED  # a person decides on good cause (S17)


def test_control_characters_typed_or_pasted_are_dropped_and_never_break_sending(
    person: Client, case: Case
) -> None:
    person.post("/portal/appeal/reason/", {"statement": "My income\x00 went up.\r\nSee my payslip.\x07"})
    walk(person, "appeal", APPEAL_ANSWERS[1:])
    assert person.post(CHECK).status_code == 302
    assert Appeal.objects.get(decision=case.decision).statement == "My income went up.\nSee my payslip."
