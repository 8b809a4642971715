"""The message thread between the person and the reviewer: both directions, the notice to the person, the
"new message" flag for the reviewer, who may write, and an audit log that never holds the words."""

from __future__ import annotations

from typing import Any

import pytest

from appeals import messaging, services
from appeals.models import Appeal, AppealMessage
from appeals.workflow import State
from core.actors import Actor
from core.errors import NotFound, PermissionDenied, TransitionNotAllowed, ValidationFailed
from tests.appeals.conftest import RATIONALE, World, events, make_world, notices_about
from tests.factories import ApiClientFactory

pytestmark = pytest.mark.django_db

QUESTION = "Could you send the payslip for March? The one you sent is for February."
ANSWER = "Here is what happened in March: I started the new job on the 3rd."


def _person(a: Appeal) -> Actor:
    return Actor.subject(a.decision.subject.pseudonym)


def _flagged(a: Appeal) -> bool:
    return bool(Appeal.objects.filter(pk=a.pk).filter(messaging.has_new_message()).exists())


def test_a_reviewers_message_reaches_the_person_as_a_notice_and_the_audit_keeps_only_its_length(
    world: World,
) -> None:
    a = world.claimed()
    before = len(notices_about(a))

    m = messaging.message_post(appeal=a, author_kind="reviewer", body=QUESTION, actor=world.alice)

    assert m.author == world.alice and m.author_kind == AppealMessage.AuthorKind.REVIEWER
    sent = notices_about(a)[before:]
    assert {n.channel for n in sent} == {"portal", "email"}
    assert all(n.kind == "message" for n in sent)
    assert all(QUESTION in n.body_text and n.template_key == "appeals/appeal_message" for n in sent)
    assert all(a.reference in n.subject for n in sent)
    [event] = events(a, "appeal.message_posted")
    assert event.data["length"] == len(QUESTION) and event.data["author_kind"] == "reviewer"
    assert event.actor_id == str(world.alice.pk)
    assert QUESTION not in str(event.data) and "payslip" not in str(event.data)
    assert not _flagged(a)  # the reviewer's own message is never "new" for the reviewer


def test_the_message_notice_is_written_in_the_persons_language(db: Any) -> None:
    w = make_world()
    a = w.appeal(language="es")
    services.review_claim_next(reviewer=w.alice, queue=w.queue)

    messaging.message_post(appeal=a, author_kind="reviewer", body="¿Puede enviar la nómina?", actor=w.alice)

    [portal] = [
        n for n in notices_about(a) if n.template_key == "appeals/appeal_message" and n.channel == "portal"
    ]
    assert portal.language == "es"
    assert (
        "Un mensaje sobre su apelación" in portal.subject and "¿Puede enviar la nómina?" in portal.body_text
    )


def test_a_persons_message_is_new_for_the_reviewer_until_the_reviewer_holding_the_case_reads_it(
    world: World,
) -> None:
    a = world.claimed()

    m = messaging.message_post(appeal=a, author_kind="person", body=ANSWER, actor=_person(a))

    assert m.author is None and m.read_at is None
    assert _flagged(a)
    assert not [
        n for n in notices_about(a) if n.template_key == "appeals/appeal_message"
    ]  # no notice to self
    [posted] = events(a, "appeal.message_posted")
    assert posted.data["author_kind"] == "person" and posted.actor_type == "subject"
    assert messaging.message_mark_read(appeal=a, reader=world.bob) == 0  # not Bob's case
    assert _flagged(a)
    assert messaging.message_mark_read(appeal=a, reader=world.alice) == 1
    assert not _flagged(a)
    [read] = events(a, "appeal.messages_read")
    assert read.data["count"] == 1 and read.actor_id == str(world.alice.pk)
    assert messaging.message_mark_read(appeal=a, reader=world.alice) == 0
    assert len(events(a, "appeal.messages_read")) == 1


def test_the_thread_reads_in_order_both_ways(world: World) -> None:
    a = world.claimed()
    messaging.message_post(appeal=a, author_kind="reviewer", body=QUESTION, actor=world.alice)
    messaging.message_post(appeal=a, author_kind="person", body=ANSWER, actor=_person(a))

    assert [(m.author_kind, m.body) for m in messaging.thread(a)] == [
        ("reviewer", QUESTION),
        ("person", ANSWER),
    ]


def test_only_the_reviewer_holding_the_case_or_a_supervisor_writes_to_the_person(world: World) -> None:
    a = world.claimed()

    with pytest.raises(PermissionDenied):
        messaging.message_post(appeal=a, author_kind="reviewer", body=QUESTION, actor=world.bob)
    with pytest.raises(PermissionDenied):
        messaging.message_post(appeal=a, author_kind="reviewer", body=QUESTION, actor=_person(a))
    messaging.message_post(appeal=a, author_kind="reviewer", body=QUESTION, actor=world.senior)

    assert AppealMessage.objects.filter(appeal=a).count() == 1
    assert len(events(a, "appeal.message_posted")) == 1


def test_nobody_else_writes_as_the_person(world: World) -> None:
    a = world.claimed()
    stranger = ApiClientFactory.create()

    with pytest.raises(NotFound):
        messaging.message_post(appeal=a, author_kind="person", body=ANSWER, actor=Actor.subject("subj_other"))
    with pytest.raises(NotFound):
        messaging.message_post(appeal=a, author_kind="person", body=ANSWER, actor=stranger)
    # The integrator of the system may pass on what the person said (integrator-assisted).
    messaging.message_post(appeal=a, author_kind="person", body=ANSWER, actor=world.client)

    assert [m.author_kind for m in messaging.thread(a)] == ["person"]


def test_an_empty_or_overlong_message_or_an_unknown_side_is_refused(world: World) -> None:
    a = world.claimed()

    for body, kind, field in [
        ("   ", "reviewer", "body"),
        ("x" * (messaging.MAX_MESSAGE + 1), "reviewer", "body"),
        ("Hello", "robot", "author_kind"),
    ]:
        with pytest.raises(ValidationFailed) as exc:
            messaging.message_post(appeal=a, author_kind=kind, body=body, actor=world.alice)
        assert exc.value.errors[0]["field"] == field

    assert not AppealMessage.objects.exists()
    assert not events(a, "appeal.message_posted")


def test_the_thread_closes_with_the_appeal(world: World) -> None:
    a = world.claimed()
    world.open_everything(a, world.alice)
    a = services.review_decide(
        appeal=a,
        reviewer=world.alice,
        outcome="overturned",
        rationale=RATIONALE,
        evidence_relied_on=["statement"],
    )
    assert a.status == State.DECIDED

    with pytest.raises(TransitionNotAllowed):
        messaging.message_post(appeal=a, author_kind="person", body=ANSWER, actor=_person(a))

    assert not AppealMessage.objects.filter(appeal=a).exists()


# ------------------------------------------------------------------------------------------ the notice itself


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_message_notice_is_complete_plain_and_readable_in_both_languages(world: World, lang: str) -> None:
    from decisions.notices import readable_text
    from decisions.readability import readability

    a = world.claimed()
    m = AppealMessage(appeal=a, author_kind="reviewer", body="Please send the letter from your employer.")
    elements = messaging.message_elements(a, m, lang)

    rendered = messaging.render_message_notice(lang, elements)

    assert a.reference in rendered.subject
    for text in (
        m.body,
        messaging.REPLY_HOW[lang],
        a.decision.public_reference,
        a.decision.system.review_contact_name,
    ):
        assert text in rendered.body_text and text in rendered.body_html
    assert readability(readable_text(rendered.body_text), lang).warning == ""


def test_a_message_notice_missing_an_element_is_refused_by_the_gate(world: World) -> None:
    from decisions.notices import NoticeIncomplete

    a = world.claimed()
    elements = messaging.message_elements(a, AppealMessage(appeal=a, author_kind="reviewer", body="Hi"), "en")
    elements["human_contact"] = {"name": "", "email": "", "phone": ""}

    with pytest.raises(NoticeIncomplete) as exc:
        messaging.render_message_notice("en", elements)

    assert "human_contact" in exc.value.missing[0]


def test_the_words_of_a_message_are_escaped_in_the_html_notice(world: World) -> None:
    a = world.claimed()

    messaging.message_post(
        appeal=a, author_kind="reviewer", body="<script>alert(1)</script> & more", actor=world.alice
    )

    [portal] = [
        n for n in notices_about(a) if n.template_key == "appeals/appeal_message" and n.channel == "portal"
    ]
    assert "<script>" not in portal.body_html and "&lt;script&gt;" in portal.body_html
    assert "<script>alert(1)</script> & more" in portal.body_text
