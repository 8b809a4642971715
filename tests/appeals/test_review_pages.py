"""The reviewer pages (/review/): my queues, Next case, the case page and its forms, as a reviewer, a
supervisor, an auditor and an outsider would use them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from appeals import messaging, services
from appeals.models import Appeal, AppealMessage, EvidenceFile, EvidenceOpened
from appeals.workflow import State
from core.actors import Actor
from core.models import User
from decisions.models import Decision
from notifications.models import WebhookMessage
from tests.appeals.conftest import PDF, PNG, RATIONALE, World, events, make_world, notices_about, webhooks
from tests.factories import UserFactory, reviewer

pytestmark = pytest.mark.django_db

HOME = "/review/"


def _client(user: User) -> Client:
    c = Client()
    c.force_login(user)
    return c


def case_url(a: Appeal, step: str = "") -> str:
    return f"/review/appeals/{a.pk}/" + (f"{step}/" if step else "")


def _person(a: Appeal) -> Actor:
    return Actor.subject(a.decision.subject.pseudonym)


def auditor() -> User:
    user = UserFactory.create()
    user.groups.add(Group.objects.get_or_create(name="auditor")[0])
    return user


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return len(ctx.captured_queries)


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _decision_column(response: Any) -> str:
    html = response.content.decode()
    start = html.index('id="decision"')
    return html[start : html.index("</section>", start)]


# ------------------------------------------------------------------------------------------ my queues


def test_the_reviewer_pages_are_the_staff_navs_review_link() -> None:
    assert reverse("appeals:review") == HOME


def test_my_queues_shows_counts_sla_badges_and_the_next_case_button(world: World, frozen: Any) -> None:
    world.claimed()
    world.appeal()
    response = _client(world.alice).get(HOME)

    assert response.status_code == 200
    text = _text(response)
    assert world.queue.name in text
    assert 'action="/review/next/"' in text and "Next case" in text
    assert "30 days to breach" in text  # the system's default review_due_days
    assert "You hold no case" not in text  # Alice holds one
    assert 'src="/static/appeals/review.js"' in text and 'src="/static/appeals/htmx.min.js"' in text


def test_a_breached_case_gets_a_red_badge(world: World, frozen: Any) -> None:
    from datetime import timedelta

    a = world.appeal()
    frozen.set(frozen.at + timedelta(days=40))

    text = _text(_client(world.alice).get(HOME))

    assert re.search(r'tag--sla-bad">Breached \d+ days ago', text)
    assert '<span class="tag tag--sla-bad">1 breached</span>' in text
    assert a.reference in text


def test_my_queues_costs_the_same_number_of_queries_for_one_case_or_many(world: World) -> None:
    world.claimed()
    alice = _client(world.alice)
    few = _queries(alice, HOME)

    for _ in range(4):
        a = world.appeal(evidence=[("p.pdf", PDF)])
        messaging.message_post(
            appeal=a, author_kind="person", body="More.", actor=Actor.subject(a.decision.subject.pseudonym)
        )
    services.review_claim_next(reviewer=world.alice, queue=world.queue)
    many = _queries(alice, HOME)

    assert few == many
    assert _queries(_client(world.senior), HOME) <= few + 1


def test_the_filters_narrow_the_list_and_htmx_gets_only_the_list(world: World) -> None:
    late_ref = world.appeal().reference
    escalated = world.appeal()
    Appeal.objects.filter(pk=escalated.pk).update(escalated=True)
    alice = _client(world.alice)

    full = _text(alice.get(HOME, {"escalated": "on"}))
    partial = alice.get(HOME, {"escalated": "on"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="appeal-list")

    assert escalated.reference in full and late_ref not in full.split('id="appeal-list"')[1]
    body = partial.content.decode()
    assert (
        partial.status_code == 200
        and "<html" not in body
        and body.lstrip().startswith('<div id="appeal-list"')
    )
    assert escalated.reference in body and late_ref not in body
    # Filters that make no sense are dropped, never an error page.
    assert alice.get(HOME, {"system": "abc", "status": "nonsense", "page": "x"}).status_code == 200


def test_a_new_message_from_the_person_shows_in_the_queue(world: World) -> None:
    a = world.claimed()
    messaging.message_post(appeal=a, author_kind="person", body="I found the payslip.", actor=_person(a))

    text = _text(_client(world.alice).get(HOME))

    assert "New message" in text
    assert "New message" in _text(_client(world.alice).get(HOME, {"new_message": "on"}))


# ------------------------------------------------------------------------------------------ Next case


def test_next_case_claims_the_first_case_and_opens_it(world: World) -> None:
    first = world.appeal()
    world.appeal()

    response = _client(world.alice).post("/review/next/")

    assert response.status_code == 303 and response["Location"] == case_url(first)
    first.refresh_from_db()
    assert first.status == State.IN_REVIEW and first.claimed_by == world.alice
    [claimed] = events(first, "appeal.claimed")
    assert claimed.actor_id == str(world.alice.pk)


def test_next_case_says_clearly_when_there_is_nothing_to_claim(world: World) -> None:
    alice = _client(world.alice)

    response = alice.post("/review/next/", follow=True)

    assert response.redirect_chain == [(HOME, 303)]
    assert "There is no case for you to claim in your queues right now." in _text(response)
    # A queue that is not hers is refused with a message, not an error page.
    other = make_world().queue
    assert "not a member of that queue" in _text(
        alice.post("/review/next/", {"queue": other.pk}, follow=True)
    )
    assert "not a member" in _text(alice.post("/review/next/", {"queue": "x"}, follow=True))


def test_next_case_never_offers_a_case_the_reviewer_took_part_in(world: World) -> None:
    d = world.decision(
        human_involvement=[{"kind": "approval", "by": "EMP-ALICE", "at": "2026-01-01T10:00:00Z"}]
    )
    world.appeal(decision=d)

    response = _client(world.alice).post("/review/next/", follow=True)

    assert "There is no case for you to claim" in _text(response)
    assert Appeal.objects.get(decision=d).claimed_by is None


# ------------------------------------------------------------------------------------------ the case page


def test_the_case_page_shows_the_decision_and_the_appeal_side_by_side(world: World) -> None:
    a = world.claimed(evidence=[("payslip.pdf", PDF)])
    messaging.message_post(appeal=a, author_kind="person", body="Hello reviewer", actor=_person(a))

    response = _client(world.alice).get(case_url(a))

    text = _text(response)
    assert response.status_code == 200
    assert a.decision.public_reference in text and "Declined" in text and "512.5" in text
    assert "Your income is low for this credit limit." in text  # the explanation's reasons
    assert "Annual income" in text and "Application form" in text  # inputs with their source
    assert "Open the statement" in text and a.statement not in text  # the statement waits to be opened
    assert "Open payslip.pdf" in text and "Not opened by you" in text
    assert "Hello reviewer" in text
    assert "Appeal: filed" in text and "Appeal: claimed" in text  # the history
    assert "Notice: appeal received" in text
    assert 'id="decide-form"' in text and 'id="info-form"' in text and 'id="release-form"' in text
    # Alice holds the case: opening it read the person's message.
    assert not AppealMessage.objects.filter(appeal=a, read_at__isnull=True).exists()


def test_a_disputed_input_is_marked(world: World) -> None:
    a = world.claimed()
    services.dispute_file(
        decision=a.decision, feature="annual_income", what_is_wrong="It is 31,000 now.", actor=_person(a)
    )

    assert 'tag--disputed">Disputed' in _text(_client(world.alice).get(case_url(a)))


def test_the_case_page_costs_the_same_number_of_queries_however_much_the_case_holds(world: World) -> None:
    a = world.claimed(evidence=[("a.pdf", PDF)])
    alice = _client(world.alice)
    alice.get(case_url(a))  # first view marks messages read etc.
    few = _queries(alice, case_url(a))

    services.evidence_add(appeal=a, files=[("b.pdf", PDF), ("c.png", PNG)], actor=_person(a))
    for i in range(3):
        messaging.message_post(appeal=a, author_kind="reviewer", body=f"Question {i}", actor=world.alice)
    world.open_everything(a, world.alice)
    many = _queries(alice, case_url(a))

    assert few == many


def test_a_reviewer_outside_the_queue_cannot_see_the_case(world: World) -> None:
    a = world.claimed(evidence=[("a.pdf", PDF)])
    outsider = reviewer()
    evidence = EvidenceFile.objects.get(appeal=a)

    c = _client(outsider)
    assert c.get(case_url(a)).status_code == 404
    assert c.get(case_url(a, f"evidence/{evidence.pk}")).status_code == 404
    assert c.post(case_url(a, "statement")).status_code == 404
    assert a.reference not in _text(c.get(HOME))
    assert not EvidenceOpened.objects.exists()


def test_someone_in_no_staff_group_is_refused_and_a_visitor_is_sent_to_sign_in(world: World) -> None:
    a = world.appeal()

    assert _client(UserFactory.create()).get(HOME).status_code == 403
    response = Client().get(case_url(a))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# ------------------------------------------------------------------------------------------ opening


def test_opening_the_statement_is_recorded_and_shows_it(world: World) -> None:
    a = world.claimed()
    alice = _client(world.alice)

    response = alice.post(case_url(a, "statement"))

    assert response.status_code == 303 and response["Location"] == case_url(a) + "#statement"
    assert a.statement in _text(alice.get(case_url(a)))
    [opened] = events(a, "appeal.evidence_opened")
    assert opened.data["opened"] == "statement" and opened.actor_id == str(world.alice.pk)


def test_an_evidence_file_is_recorded_as_opened_then_served_as_a_safe_download(world: World) -> None:
    a = world.claimed(evidence=[("pay<slip>.pdf", PDF)])
    f = EvidenceFile.objects.get(appeal=a)

    response = _client(world.alice).get(case_url(a, f"evidence/{f.pk}"))

    assert response.status_code == 200
    assert b"".join(cast(Any, response).streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]
    [opened] = events(a, "appeal.evidence_opened")
    assert opened.data["opened"] == str(f.pk)


def test_a_missing_or_foreign_evidence_file_is_404_and_records_nothing(world: World) -> None:
    a = world.claimed(evidence=[("a.pdf", PDF)])
    other = world.appeal(evidence=[("b.pdf", PDF)])
    theirs = EvidenceFile.objects.get(appeal=other)
    mine = EvidenceFile.objects.get(appeal=a)
    alice = _client(world.alice)

    assert alice.get(case_url(a, f"evidence/{theirs.pk}")).status_code == 404
    Path(services.settings.MEDIA_ROOT, mine.path).unlink()
    assert alice.get(case_url(a, f"evidence/{mine.pk}")).status_code == 404
    assert not events(a, "appeal.evidence_opened")


# ------------------------------------------------------------------------------------------ blind review


def test_blind_review_hides_the_machines_outcome_score_and_reasons_until_the_assessment(db: Any) -> None:
    w = make_world(blind_review=True)
    a = w.claimed()
    alice = _client(w.alice)

    before = alice.get(case_url(a))
    column = _decision_column(before)
    assert "512.5" not in column and "Your income is low" not in column and "Declined" not in column
    assert "hidden" in column and "Annual income" in column  # the data is shown, the verdict is not
    assert "512.5" not in before.content.decode()
    assert 'id="blind-form"' in before.content.decode()

    response = alice.post(case_url(a, "assessment"), {"outcome": "approved", "note": "Income looks fine."})
    assert response.status_code == 303

    after = alice.get(case_url(a))
    column = _decision_column(after)
    assert "512.5" in column and "Your income is low" in column and "Declined" in column
    assert 'id="blind-form"' not in after.content.decode()
    [event] = events(a, "appeal.blind_assessment_recorded")
    assert event.data["outcome"] == "approved"


def test_deciding_before_the_blind_assessment_is_refused_with_an_error_summary(db: Any) -> None:
    w = make_world(blind_review=True)
    a = w.claimed()
    w.open_everything(a, w.alice)

    response = _client(w.alice).post(
        case_url(a, "decide"),
        {"outcome": "upheld", "rationale": RATIONALE, "evidence_relied_on": ["statement"]},
    )

    assert response.status_code == 409
    text = _text(response)
    assert "error-summary" in text and "record your own assessment first" in text
    assert "512.5" not in _decision_column(response)


# ------------------------------------------------------------------------------------------ deciding


def test_deciding_before_opening_everything_shows_an_error_summary_and_keeps_the_values(world: World) -> None:
    a = world.claimed(evidence=[("payslip.pdf", PDF)])

    response = _client(world.alice).post(
        case_url(a, "decide"),
        {
            "outcome": "overturned",
            "rationale": RATIONALE,
            "evidence_relied_on": ["statement", "decision_record"],
            "remedy": ["correction"],
        },
    )

    assert response.status_code == 409
    text = _text(response)
    assert 'class="error-summary"' in text and 'href="#decide-form"' in text
    assert "Open the statement and every file before deciding (2 not opened yet, S21)." in text
    assert RATIONALE in text  # the typed reasons are kept
    assert re.search(r'value="overturned"[^>]*checked', text)
    assert re.search(r'value="correction"[^>]*checked', text)
    a.refresh_from_db()
    assert a.status == State.IN_REVIEW and not events(a, "appeal.decided")


def test_a_form_error_points_at_its_field(world: World) -> None:
    a = world.claimed()
    world.open_everything(a, world.alice)

    response = _client(world.alice).post(
        case_url(a, "decide"), {"outcome": "overturned", "rationale": "Too short"}
    )

    assert response.status_code == 422
    text = _text(response)
    assert 'href="#decide-rationale"' in text and "Write the reasons for the outcome (S26)." in text
    assert 'id="decide-rationale"' in text
    assert "Too short" in text


def test_an_overturn_from_the_case_page_reverses_the_decision_and_tells_the_person_and_integrator(
    world: World,
) -> None:
    a = world.claimed(evidence=[("payslip.pdf", PDF)])
    f = EvidenceFile.objects.get(appeal=a)
    alice = _client(world.alice)
    alice.post(case_url(a, "statement"))
    alice.get(case_url(a, f"evidence/{f.pk}"))

    response = alice.post(
        case_url(a, "decide"),
        {
            "outcome": "overturned",
            "rationale": RATIONALE,
            "evidence_relied_on": ["statement", str(f.pk)],
            "remedy": ["correction"],
        },
    )

    assert response.status_code == 303 and response["Location"] == case_url(a)
    a.refresh_from_db()
    assert a.status == State.DECIDED and a.outcome == "overturned" and a.remedy == ["correction"]
    original = Decision.objects.get(pk=a.decision_id)
    assert original.status == Decision.Status.REVERSED
    assert a.resulting_decision is not None and not a.resulting_decision.adverse
    [reversed_notice, *_] = notices_about(a, "decision_reversed")
    assert RATIONALE in reversed_notice.body_text
    [hook] = webhooks("appeal.decided")
    assert hook.payload["outcome"] == "overturned"
    assert WebhookMessage.objects.filter(event_type="appeal.decided").count() == 1
    [decided] = events(a, "appeal.decided")
    assert decided.data["outcome"] == "overturned" and decided.actor_id == str(world.alice.pk)
    page = _text(alice.get(case_url(a)))
    assert "The outcome is recorded." in page and a.resulting_decision.public_reference in page


def test_four_eyes_from_the_pages_upheld_waits_for_a_second_reviewer(db: Any) -> None:
    w = make_world(four_eyes=True)
    a = w.claimed()
    w.open_everything(a, w.alice)
    _client(w.alice).post(
        case_url(a, "decide"),
        {"outcome": "upheld", "rationale": RATIONALE, "evidence_relied_on": ["statement"]},
    )
    a.refresh_from_db()
    assert a.status == State.AWAITING_SECOND_REVIEW

    bob = _client(w.bob)
    assert a.reference in _text(bob.get(HOME))
    response = bob.post("/review/next/", {"stage": "second"})
    assert response["Location"] == case_url(a)
    assert 'id="confirm-form"' in _text(bob.get(case_url(a)))
    refused = bob.post(case_url(a, "confirm"), {"confirm": "yes", "rationale": RATIONALE})
    assert refused.status_code == 409  # Bob has not opened the statement (S21)
    bob.post(case_url(a, "statement"))
    assert bob.post(case_url(a, "confirm"), {"confirm": "yes", "rationale": RATIONALE}).status_code == 303

    a.refresh_from_db()
    assert a.status == State.DECIDED and a.outcome == "upheld"
    assert events(a, "appeal.second_review_confirmed")


# ------------------------------------------------------------------------------------------ other steps


def test_asking_the_person_pauses_the_clock_and_tells_them(world: World) -> None:
    a = world.claimed()

    response = _client(world.alice).post(
        case_url(a, "information"), {"question": "Which employer paid you in March?", "reply_days": "10"}
    )

    assert response.status_code == 303
    a.refresh_from_db()
    assert a.status == State.AWAITING_APPELLANT and a.clock_paused_at is not None
    assert notices_about(a, "information_requested")
    assert events(a, "appeal.information_requested")
    assert "Clock paused" in _text(_client(world.alice).get(HOME))


def test_a_message_from_the_case_page_reaches_the_person(world: World) -> None:
    a = world.claimed()

    response = _client(world.alice).post(case_url(a, "messages"), {"body": "Could you send a payslip?"})

    assert response.status_code == 303 and response["Location"] == case_url(a) + "#messages"
    assert [m.body for m in messaging.thread(a)] == ["Could you send a payslip?"]
    assert [n for n in notices_about(a) if n.template_key == "appeals/appeal_message"]
    assert events(a, "appeal.message_posted")
    empty = _client(world.alice).post(case_url(a, "messages"), {"body": ""})
    assert empty.status_code == 400 and 'href="#message-body"' in _text(empty)


def test_releasing_gives_the_case_back_and_a_supervisor_can_reassign_it(world: World) -> None:
    a = world.claimed()

    assert _client(world.alice).post(case_url(a, "release"), {"reason": "Leave"}).status_code == 303
    a.refresh_from_db()
    assert a.status == State.QUEUED and a.claimed_by is None
    assert events(a, "appeal.released")

    bob_is_refused = _client(world.bob).post(case_url(a, "reassign"), {"to": world.carol.pk})
    assert bob_is_refused.status_code == 403
    response = _client(world.senior).post(case_url(a, "reassign"), {"to": world.carol.pk, "reason": "Cover"})
    assert response.status_code == 303
    a.refresh_from_db()
    assert a.claimed_by == world.carol and events(a, "appeal.assigned")


# ------------------------------------------------------------------------------ read-only and bad input


@pytest.mark.parametrize("oversight_guard", [True, False], ids=["with-oversight-guard", "appeals-alone"])
def test_auditors_read_every_case_and_get_403_on_every_post(
    world: World, settings: Any, oversight_guard: bool
) -> None:
    if not oversight_guard:  # appeals refuses auditors by itself, whatever a higher floor adds
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "AuditorReadOnly" not in m]
    a = world.claimed(evidence=[("a.pdf", PDF)])
    f = EvidenceFile.objects.get(appeal=a)
    c = _client(auditor())

    assert c.get(HOME).status_code == 200
    page = c.get(case_url(a))
    assert page.status_code == 200 and a.statement in _text(page)  # auditors read everything
    assert 'id="decide-form"' not in _text(page) and 'action="/review/next/"' not in _text(c.get(HOME))
    for step in [
        "statement",
        "assessment",
        "decide",
        "confirm",
        "information",
        "messages",
        "release",
        "reassign",
    ]:
        assert c.post(case_url(a, step), {"outcome": "upheld"}).status_code == 403, step
    assert c.post("/review/next/").status_code == 403
    assert c.get(case_url(a, f"evidence/{f.pk}")).status_code == 403  # files go to the case's reviewers
    assert not events(a, "appeal.evidence_opened")


@pytest.mark.parametrize(
    ("step", "data"),
    [
        ("decide", {"outcome": "nonsense", "rationale": RATIONALE}),
        ("decide", {"outcome": "overturned", "rationale": RATIONALE, "evidence_relied_on": ["not-a-file"]}),
        ("decide", {"outcome": "modified", "rationale": RATIONALE, "new_outcome": "no-such-outcome"}),
        ("assessment", {"outcome": "no-such-outcome"}),
        ("information", {"question": "Why?", "reply_days": "abc"}),
        ("information", {"question": "Why?", "reply_days": "999"}),
        ("reassign", {"to": "x"}),
        ("reassign", {"to": "999999"}),
        ("confirm", {"confirm": "maybe", "rationale": ""}),
        ("messages", {"body": "x" * 6000}),
    ],
)
def test_bad_input_gives_an_error_summary_never_a_500(world: World, step: str, data: dict[str, Any]) -> None:
    a = world.claimed()
    world.open_everything(a, world.alice)
    user = world.senior if step == "reassign" else world.alice

    response = _client(user).post(case_url(a, step), data)

    assert 400 <= response.status_code < 500
    assert 'class="error-summary"' in _text(response)
    a.refresh_from_db()
    assert a.status == State.IN_REVIEW


def test_a_step_that_is_not_allowed_now_is_refused_with_the_reason(world: World) -> None:
    a = world.appeal()  # queued: nobody holds it

    response = _client(world.alice).post(
        case_url(a, "decide"),
        {"outcome": "upheld", "rationale": RATIONALE, "evidence_relied_on": ["statement"]},
    )

    assert response.status_code == 409 and "error-summary" in _text(response)
    assert _client(world.alice).post(case_url(a, "release")).status_code == 303  # nothing to release: no-op


def test_the_shortcut_script_ignores_keys_typed_into_fields() -> None:
    script = (Path(__file__).resolve().parents[2] / "appeals/static/appeals/review.js").read_text()

    assert "INPUT|TEXTAREA|SELECT" in script and "isContentEditable" in script
    assert 'case "n"' in script and 'case "j"' in script and 'case "k"' in script and 'case "?"' in script


def test_an_independence_refusal_is_shown_as_an_error_summary(world: World) -> None:
    d = world.decision(
        human_involvement=[{"kind": "approval", "by": "EMP-BOB", "at": "2026-01-01T10:00:00Z"}]
    )
    a = world.appeal(decision=d)

    response = _client(world.senior).post(case_url(a, "reassign"), {"to": world.bob.pk, "reason": "Cover"})

    assert response.status_code == 403
    text = _text(response)
    assert 'class="error-summary"' in text and "took, approved or reviewed the original decision" in text
    assert "(S22)" in text and re.search(rf'<option value="{world.bob.pk}" selected', text)
    a.refresh_from_db()
    assert a.claimed_by is None and not events(a, "appeal.assigned")
