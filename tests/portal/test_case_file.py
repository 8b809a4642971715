"""Download my case file (S26): everything held about this decision and its contests, as a page ready to
print and as JSON with the same content."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from appeals import messaging, services
from appeals.models import Appeal
from core.actors import Actor
from notifications.models import Notice
from tests.appeals.conftest import RATIONALE, World, make_world
from tests.portal.conftest import APPEAL_ANSWERS, PDF, STATEMENT, page, sign_in, upload, walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def decided(client: Client, db: Any) -> tuple[World, Appeal]:
    """A person who appealed with a document, was asked a question, wrote to the reviewer, disputed a
    value, asked for an explanation, and got the outcome."""
    world = make_world()
    decision = world.decision()
    person = Actor.subject(decision.subject.pseudonym)
    sign_in(client, decision)
    walk(client, "appeal", APPEAL_ANSWERS[:2])
    client.post(
        "/portal/appeal/documents/", {"documents": [upload("payslip.pdf", PDF)], "action": "continue"}
    )
    walk(client, "appeal", APPEAL_ANSWERS[3:])
    client.post("/portal/appeal/check/")
    appeal = Appeal.objects.get(decision=decision)
    claimed = services.review_claim_next(reviewer=world.alice, queue=world.queue)
    assert claimed is not None
    services.information_request(
        appeal=claimed, reviewer=world.alice, question="Which month did the job start?"
    )
    services.information_reply(appeal=claimed, reply="March.", actor=person)
    messaging.message_post(
        appeal=claimed, author_kind="reviewer", body="Thank you, that helps.", actor=world.alice
    )
    services.dispute_file(
        decision=decision, feature="late_payments_12m", what_is_wrong="I paid on time.", actor=person
    )
    services.explanation_request_file(
        decision=decision, question="Why does income count so much?", actor=person
    )
    world.open_everything(claimed, world.alice)
    services.review_decide(
        appeal=claimed,
        reviewer=world.alice,
        outcome="overturned",
        rationale=RATIONALE,
        evidence_relied_on=["statement", "decision_record"],
    )
    appeal.refresh_from_db()
    return world, appeal


def test_the_json_case_file_holds_everything_about_the_decision(
    client: Client, decided: tuple[World, Appeal]
) -> None:
    _world, appeal = decided
    decision = appeal.decision
    response = client.get("/portal/case-file.json")
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert f'filename="case-file-{decision.public_reference}.json"' in response["Content-Disposition"]
    data = json.loads(response.content)

    assert data["format"] == "contestable.case-file/1"
    d = data["decision"]
    assert d["reference"] == decision.public_reference and d["outcome"] == "Declined" and d["adverse"] is True
    assert d["reasons"] and d["explanation_text"].startswith("Why we decided this")
    assert {row["feature"] for row in d["data"]} == {i.feature.name for i in decision.inputs.all()}
    late = next(row for row in d["data"] if row["feature"] == "late_payments_12m")
    assert late["disputed"] is True and late["recorded_value"] == 3 and late["source"]
    assert d["replaced_by"] == appeal.resulting_decision.public_reference  # type: ignore[union-attr]
    assert data["your_details"]["email"] == decision.subject.contact.email

    (a,) = data["appeals"]
    assert a["reference"] == appeal.reference and a["statement"] == STATEMENT
    assert [f["name"] for f in a["evidence"]] == ["payslip.pdf"] and len(a["evidence"][0]["sha256"]) == 64
    assert a["information_requests"][0]["question"] == "Which month did the job start?"
    assert a["information_requests"][0]["reply"] == "March."
    assert a["messages"] == [
        {"sent": a["messages"][0]["sent"], "from": "reviewer", "text": "Thank you, that helps."}
    ]
    assert a["outcome"]["result"] == "overturned" and a["outcome"]["reasons"] == RATIONALE
    assert a["outcome"]["evidence_relied_on"] == [
        "What you told us in your appeal",
        "The information we used for the decision",
    ]
    assert data["data_disputes"][0]["what_is_wrong"] == "I paid on time."
    assert data["explanation_requests"][0]["question"] == "Why does income count so much?"

    portal_notices = Notice.objects.filter(recipient=decision.subject.pseudonym, channel="portal")
    assert {n["subject"] for n in data["notices"]} == set(portal_notices.values_list("subject", flat=True))
    assert all(n["text"] for n in data["notices"])
    whats = [e["what"] for e in data["timeline"]]
    assert whats[0].startswith("We made decision")
    assert f"You appealed ({appeal.reference})." in whats
    assert any(w.startswith("We decided your appeal") for w in whats)


def test_the_case_file_page_shows_the_same_things_ready_to_print(
    client: Client, decided: tuple[World, Appeal]
) -> None:
    _world, appeal = decided
    html = page(client.get("/portal/case-file/"))
    for expected in (
        "Your case file",
        appeal.decision.public_reference,
        STATEMENT,
        "payslip.pdf",
        "Which month did the job start?",
        "Thank you, that helps.",
        RATIONALE,
        "I paid on time.",
        "Why does income count so much?",
        "Every message we sent you",
        'href="/portal/case-file.json"',
    ):
        assert expected in html, expected
    assert "@media print" in Path("portal/static/portal/css/portal.css").read_text()


def test_the_case_file_needs_a_session(client: Client) -> None:
    assert client.get("/portal/case-file.json")["Location"] == "/portal/"
