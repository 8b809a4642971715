"""After sending: the appeal's page says where it stands in plain words and by when we answer; the person
answers the reviewer's questions, writes to the reviewer, adds documents, withdraws, and reads the outcome
with its reasons. Every action goes through the appeals services as the person, and is audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from appeals import messaging, services
from appeals.models import Appeal, AppealMessage, EvidenceFile
from appeals.workflow import State
from core.models import AuditEvent
from decisions.models import Decision
from tests.appeals.conftest import RATIONALE, World, make_world
from tests.portal.conftest import APPEAL_ANSWERS, PDF, PNG, errors_of, page, sign_in, upload, walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db: Any) -> World:
    return make_world()


def _appeal_through_the_portal(client: Client, world: World, **doc: Any) -> Appeal:
    decision = world.decision()
    sign_in(client, decision)
    walk(client, "appeal", APPEAL_ANSWERS[:2])
    client.post(
        "/portal/appeal/documents/", {"documents": [upload("payslip.pdf", PDF)], "action": "continue"}
    )
    walk(client, "appeal", APPEAL_ANSWERS[3:])
    assert client.post("/portal/appeal/check/").status_code == 302
    return Appeal.objects.get(decision=decision)


def _status(client: Client, appeal: Appeal) -> str:
    return page(client.get(f"/portal/appeals/{appeal.reference}/"))


def _by_person(appeal: Appeal, action: str) -> AuditEvent:
    event = AuditEvent.objects.filter(action=action, target_id=str(appeal.pk)).latest("id")
    assert (event.actor_type, event.actor_id) == ("subject", appeal.decision.subject.pseudonym)
    return event


def test_the_status_page_says_where_the_appeal_stands_and_by_when_we_answer(
    client: Client, world: World
) -> None:
    appeal = _appeal_through_the_portal(client, world)
    html = _status(client, appeal)
    due = appeal.due_date
    assert "Waiting for a reviewer" in html
    assert f"We will tell you the outcome by {due.day} {due.strftime('%B')} {due.year}." in html
    assert "We will not apply the decision until a person has decided on your appeal." in html
    assert "payslip.pdf" in html
    # The decision page shows the open appeal and the hold.
    decision_page = page(client.get("/portal/decision/"))
    assert f"Your appeal {appeal.reference}: Waiting for a reviewer." in decision_page
    assert "On hold while a person looks at your appeal." in decision_page


def test_the_person_answers_the_reviewers_question_with_a_document(client: Client, world: World) -> None:
    appeal = _appeal_through_the_portal(client, world)
    claimed = services.review_claim_next(reviewer=world.alice, queue=world.queue)
    assert claimed is not None
    services.information_request(appeal=claimed, reviewer=world.alice, question="Send your March payslip.")
    html = _status(client, appeal)
    assert "We need an answer from you" in html and "Send your March payslip." in html

    empty = client.post(f"/portal/appeals/{appeal.reference}/reply/", {"reply": ""})
    assert errors_of(empty) == ["Enter your answer, or add a document"]
    refused = client.post(
        f"/portal/appeals/{appeal.reference}/reply/",
        {"reply": "Here it is.", "reply_files": [upload("march.pdf", b"not a pdf at all")]},
    )
    assert refused.status_code == 400
    assert "“march.pdf” is not a PDF, JPG or PNG." in errors_of(refused)[0]
    assert ">Here it is.</textarea>" in page(refused)  # what was typed is kept

    done = client.post(
        f"/portal/appeals/{appeal.reference}/reply/",
        {"reply": "Here it is.", "reply_files": [upload("march.png", PNG)]},
    )
    assert done.status_code == 302
    appeal.refresh_from_db()
    assert appeal.status == State.IN_REVIEW
    assert appeal.information_requests.get().reply == "Here it is."
    assert EvidenceFile.objects.filter(appeal=appeal, original_name="march.png").exists()
    _by_person(appeal, "appeal.information_received")
    assert "Your answer was sent to your reviewer." in _status(client, appeal)


def test_the_person_and_the_reviewer_write_to_each_other(client: Client, world: World) -> None:
    appeal = _appeal_through_the_portal(client, world)
    claimed = services.review_claim_next(reviewer=world.alice, queue=world.queue)
    assert claimed is not None
    messaging.message_post(
        appeal=claimed, author_kind="reviewer", body="Is the new job permanent?", actor=world.alice
    )
    html = _status(client, appeal)
    assert "Is the new job permanent?" in html and "Your reviewer" in html
    assert "alice" not in html.lower()  # reviewers are not named to the person

    assert errors_of(client.post(f"/portal/appeals/{appeal.reference}/message/", {"message": " "})) == [
        "Enter your message"
    ]
    response = client.post(f"/portal/appeals/{appeal.reference}/message/", {"message": "Yes, since March."})
    assert response.status_code == 302
    mine = AppealMessage.objects.get(appeal=appeal, author_kind="person")
    assert mine.body == "Yes, since March."
    event = _by_person(appeal, "appeal.message_posted")
    assert "Yes, since March." not in str(event.data)
    timeline = page(client.get("/portal/decision/"))
    assert (
        "Your reviewer sent you a message" in timeline and "You sent a message to your reviewer" in timeline
    )


def test_the_person_adds_documents_while_the_appeal_is_open(client: Client, world: World) -> None:
    appeal = _appeal_through_the_portal(client, world)
    response = client.post(
        f"/portal/appeals/{appeal.reference}/documents/", {"more_documents": [upload("bank.png", PNG)]}
    )
    assert response.status_code == 302
    assert appeal.evidence.count() == 2
    _by_person(appeal, "appeal.evidence_added")
    nothing = client.post(f"/portal/appeals/{appeal.reference}/documents/", {})
    assert errors_of(nothing) == ["Choose a document to add"]


def test_the_person_can_download_their_own_documents_and_nobody_elses(client: Client, world: World) -> None:
    appeal = _appeal_through_the_portal(client, world)
    evidence = appeal.evidence.get()
    response = client.get(f"/portal/evidence/{evidence.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF  # type: ignore[attr-defined]
    assert 'attachment; filename="payslip.pdf"' in response["Content-Disposition"]
    assert "sandbox" in response["Content-Security-Policy"]
    stranger = Client()
    sign_in(stranger, world.decision())
    assert stranger.get(f"/portal/evidence/{evidence.pk}/").status_code == 404
    assert stranger.get(f"/portal/appeals/{appeal.reference}/").status_code == 404


def test_withdrawing_asks_first_then_ends_the_appeal_and_the_hold(client: Client, world: World) -> None:
    appeal = _appeal_through_the_portal(client, world)
    assert Decision.objects.get(pk=appeal.decision_id).status == Decision.Status.STAYED
    confirm = page(client.get(f"/portal/appeals/{appeal.reference}/withdraw/"))
    assert f"Are you sure you want to withdraw appeal {appeal.reference}?" in confirm
    assert "The decision is on hold now. If you withdraw, it will apply again." in confirm
    response = client.post(f"/portal/appeals/{appeal.reference}/withdraw/", {"reason": "I found a job."})
    assert response.status_code == 302
    appeal.refresh_from_db()
    assert appeal.status == State.WITHDRAWN and appeal.withdrawal_reason == "I found a job."
    assert Decision.objects.get(pk=appeal.decision_id).status == appeal.stay_previous_status  # not on hold
    _by_person(appeal, "appeal.withdrawn")
    html = _status(client, appeal)
    assert f"You withdrew appeal {appeal.reference}." in html and "Withdrawn" in html
    assert "withdraw/" not in html


def test_the_outcome_is_shown_with_its_reasons_and_the_new_decision(client: Client, world: World) -> None:
    appeal = _appeal_through_the_portal(client, world)
    claimed = services.review_claim_next(reviewer=world.alice, queue=world.queue)
    assert claimed is not None
    world.open_everything(claimed, world.alice)
    evidence = str(appeal.evidence.get().pk)
    services.review_decide(
        appeal=claimed,
        reviewer=world.alice,
        outcome="overturned",
        rationale=RATIONALE,
        evidence_relied_on=["statement", evidence],
        remedy=["reinstatement"],
    )
    appeal.refresh_from_db()
    new = appeal.resulting_decision
    assert new is not None
    html = _status(client, appeal)
    assert "Decided" in html
    assert "We changed the decision in your favour." in html
    assert RATIONALE in html
    assert "What you told us in your appeal" in html and "Your file: payslip.pdf" in html
    assert "We will put things back as they were before the decision." in html
    assert f"See decision {new.public_reference}" in html
    # The old decision points to the new one, and the person may open it.
    old_page = page(client.get("/portal/decision/"))
    assert f"This decision was replaced by decision {new.public_reference}." in old_page
    assert "This decision was reversed." in old_page
    assert ">This is wrong<" not in old_page  # the reversed decision takes no more disputes or appeals
    for path in ("/portal/dispute/start/", "/portal/appeal/"):
        refused = client.get(path)
        assert refused.status_code == 409
        assert "This decision was replaced" in page(refused)
        assert f'href="/portal/decision/{new.public_reference}/"' in page(refused)
    switched = client.get(f"/portal/decision/{new.public_reference}/")
    assert switched.status_code == 302
    new_page = page(client.get("/portal/decision/"))
    assert new.public_reference in new_page and "Approved" in new_page
    # Its timeline tells the whole story, from the first decision through the appeal to this one.
    timeline = new_page.split('id="timeline"')[1]
    assert f"We made decision {appeal.decision.public_reference}" in timeline
    assert f"You appealed ({appeal.reference})." in timeline
    assert "we changed the decision in your favour" in timeline
    assert f"We made decision {new.public_reference}" in timeline
    # The appeal of the old decision stays reachable from the new one.
    assert client.get(f"/portal/appeals/{appeal.reference}/").status_code == 200


def test_another_decision_cannot_be_opened_by_its_reference(client: Client, world: World) -> None:
    mine, theirs = world.decision(), world.decision()
    sign_in(client, mine)
    assert client.get(f"/portal/decision/{theirs.public_reference}/").status_code == 404
    assert theirs.public_reference not in page(client.get("/portal/decision/"))
