"""The data dispute (S19) and explanation request (S20) journeys: the same question pages, check your
answers and confirmation, sent through the appeals services as the person; then their status pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from appeals import services
from appeals.models import DataDispute, EvidenceFile, ExplanationRequest
from core.actors import Actor
from core.models import AuditEvent
from tests.factories import reviewer
from tests.portal.conftest import PDF, PNG, Case, errors_of, page, sign_in, upload, walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(client: Client, case: Case) -> Client:
    sign_in(client, case.decision)
    return client


def _by_person(target: Any, action: str, case: Case) -> AuditEvent:
    event = AuditEvent.objects.get(action=action, target_id=str(target.pk))
    assert (event.actor_type, event.actor_id) == ("subject", case.decision.subject.pseudonym)
    return event


# ------------------------------------------------------------------------------------------ disputes


def test_this_is_wrong_starts_a_dispute_about_that_value(person: Client, case: Case) -> None:
    response = person.get("/portal/dispute/value/annual_income/")
    assert response["Location"] == "/portal/dispute/what/"
    html = page(person.get("/portal/dispute/what/"))
    assert "What is wrong with “Annual income”?" in html
    assert "We used: 21,000." in html and "It came from Application form" in html


def test_a_dispute_walks_through_its_questions_and_is_sent_with_its_documents(
    person: Client, case: Case
) -> None:
    person.get("/portal/dispute/value/annual_income/")
    assert errors_of(person.post("/portal/dispute/what/", {"what_is_wrong": ""})) == [
        "Enter what is wrong with this information"
    ]
    walk(
        person,
        "dispute",
        [
            ("what", {"what_is_wrong": "I earn more since March: 28,000 a year."}),
            ("correct", {"proposed_value": "28000"}),
        ],
    )
    person.post(
        "/portal/dispute/documents/", {"documents": [upload("contract.pdf", PDF)], "action": "continue"}
    )
    check = page(person.get("/portal/dispute/check/"))
    assert "Annual income: 21,000" in check and "28000" in check and "contract.pdf" in check
    response = person.post("/portal/dispute/check/")
    dispute = DataDispute.objects.get(decision=case.decision)
    assert response["Location"] == f"/portal/disputes/{dispute.reference}/sent/"
    assert dispute.feature == "annual_income" and dispute.proposed_value == "28000"
    assert dispute.what_is_wrong == "I earn more since March: 28,000 a year."
    assert EvidenceFile.objects.filter(dispute=dispute, original_name="contract.pdf").exists()
    _by_person(dispute, "dispute.filed", case)
    sent = page(person.get(response["Location"]))
    assert "We will check your information" in sent and dispute.reference in sent
    # The value now shows as being checked, with a link to the check instead of "this is wrong".
    decision = page(person.get("/portal/decision/"))
    assert "Being checked" in decision and f'href="/portal/disputes/{dispute.reference}/"' in decision
    assert 'href="/portal/dispute/value/annual_income/"' not in decision


def test_a_dispute_started_from_the_list_asks_which_value(person: Client) -> None:
    assert person.get("/portal/dispute/start/")["Location"] == "/portal/dispute/which/"
    assert person.get("/portal/dispute/what/")["Location"] == "/portal/dispute/which/"
    html = page(person.get("/portal/dispute/which/"))
    assert "Which information is wrong?" in html and "Annual income: 21,000" in html
    assert errors_of(person.post("/portal/dispute/which/", {})) == ["Select the information that is wrong"]
    assert (
        person.post("/portal/dispute/which/", {"feature": "debt_to_income"})["Location"]
        == "/portal/dispute/what/"
    )


def test_a_value_already_being_checked_is_not_disputed_twice(person: Client, case: Case) -> None:
    first = services.dispute_file(
        decision=case.decision,
        feature="annual_income",
        what_is_wrong="It is old.",
        actor=Actor.subject(case.decision.subject.pseudonym),
    )
    assert (
        person.get("/portal/dispute/value/annual_income/")["Location"]
        == f"/portal/disputes/{first.reference}/"
    )
    response = person.post("/portal/dispute/which/", {"feature": "annual_income"})
    assert errors_of(response) == [
        f"We are already checking this information ({first.reference}). Choose another, or add to that check "
        "from its page."
    ]


def test_the_person_adds_information_to_an_open_check(person: Client, case: Case) -> None:
    person.get("/portal/dispute/value/annual_income/")
    walk(person, "dispute", [("what", {"what_is_wrong": "Wrong."}), ("correct", {"proposed_value": ""})])
    walk(person, "dispute", [("documents", {"action": "continue"})])
    person.post("/portal/dispute/check/")
    dispute = DataDispute.objects.get(decision=case.decision)
    status = page(person.get(f"/portal/disputes/{dispute.reference}/"))
    assert "Being checked" in status and "Add information" in status
    refused = person.post(f"/portal/disputes/{dispute.reference}/add/", {"information": ""})
    assert errors_of(refused) == ["Enter what you want to add, or add a document"]
    done = person.post(
        f"/portal/disputes/{dispute.reference}/add/",
        {"information": "My new contract is attached.", "more_documents": [upload("c.png", PNG)]},
    )
    assert done.status_code == 302
    dispute.refresh_from_db()
    assert "My new contract is attached." in dispute.additional_information and dispute.extended
    assert dispute.evidence.count() == 1
    _by_person(dispute, "dispute.information_added", case)


def test_the_result_of_a_check_is_shown(person: Client, case: Case) -> None:
    dispute = services.dispute_file(
        decision=case.decision,
        feature="years_at_address",
        what_is_wrong="I have lived here 6 years.",
        actor=Actor.subject(case.decision.subject.pseudonym),
    )
    services.dispute_resolve(
        dispute=dispute, corrected=False, note="The land registry shows 1 year.", actor=reviewer(senior=True)
    )
    html = page(person.get(f"/portal/disputes/{dispute.reference}/"))
    assert "Checked: the information was right" in html and "The land registry shows 1 year." in html


# ------------------------------------------------------------------------------------------ explanations


def test_an_explanation_request_is_one_question_checked_and_sent(person: Client, case: Case) -> None:
    assert person.get("/portal/explanation/start/")["Location"] == "/portal/explanation/question/"
    assert errors_of(person.post("/portal/explanation/question/", {"question": ""})) == [
        "Enter what you want to know"
    ]
    walk(person, "explanation", [("question", {"question": "How much did my income count?"})])
    check = page(person.get("/portal/explanation/check/"))
    assert "How much did my income count?" in check and "Send question" in check
    response = person.post("/portal/explanation/check/")
    request_ = ExplanationRequest.objects.get(decision=case.decision)
    assert response["Location"] == f"/portal/explanations/{request_.reference}/sent/"
    assert request_.question == "How much did my income count?" and request_.channel == "portal"
    _by_person(request_, "explanation_request.filed", case)
    due = request_.due_date
    sent = page(person.get(response["Location"]))
    assert f"We will answer by {due.day} {due.strftime('%B')} {due.year}." in sent
    services.explanation_request_answer(
        request=request_, answer="Income was 40% of the score.", actor=reviewer(senior=True)
    )
    status = page(person.get(f"/portal/explanations/{request_.reference}/"))
    assert "Answered" in status and "Income was 40% of the score." in status
