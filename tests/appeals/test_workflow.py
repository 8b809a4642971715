"""The appeal state machine: the pure table exhaustively, and the services driven by Hypothesis so that no
sequence of calls reaches an illegal state or leaves a step unaudited."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import event as note_event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from appeals import services, workflow
from appeals.models import Appeal, EvidenceOpened, Review
from appeals.workflow import OPEN_STATES, TERMINAL_STATES, Event, State, can, events_from, next_state
from core import clock
from core.errors import ApplicationError, TransitionNotAllowed
from core.models import AuditEvent
from decisions.models import Decision
from tests.appeals.conftest import PDF, RATIONALE, make_world

S, E = State, Event

#: The table written out independently of the module, so a slip in either shows up.
EXPECTED: set[tuple[State, Event, State]] = {
    (S.SUBMITTED, E.ACCEPT, S.QUEUED),
    (S.SUBMITTED, E.REFUSE, S.REFUSED),
    (S.QUEUED, E.CLAIM, S.IN_REVIEW),
    (S.QUEUED, E.ASSIGN, S.IN_REVIEW),
    (S.IN_REVIEW, E.ASSIGN, S.IN_REVIEW),
    (S.IN_REVIEW, E.RELEASE, S.QUEUED),
    (S.IN_REVIEW, E.LAPSE, S.QUEUED),
    (S.IN_REVIEW, E.REQUEST_INFORMATION, S.AWAITING_APPELLANT),
    (S.AWAITING_APPELLANT, E.ASSIGN, S.AWAITING_APPELLANT),
    (S.AWAITING_APPELLANT, E.INFORMATION_RECEIVED, S.IN_REVIEW),
    (S.AWAITING_APPELLANT, E.INFORMATION_TIMEOUT, S.IN_REVIEW),
    (S.IN_REVIEW, E.DECIDE, S.DECIDED),
    (S.IN_REVIEW, E.DECIDE_FOR_SECOND_REVIEW, S.AWAITING_SECOND_REVIEW),
    (S.AWAITING_SECOND_REVIEW, E.CLAIM, S.AWAITING_SECOND_REVIEW),
    (S.AWAITING_SECOND_REVIEW, E.ASSIGN, S.AWAITING_SECOND_REVIEW),
    (S.AWAITING_SECOND_REVIEW, E.RELEASE, S.AWAITING_SECOND_REVIEW),
    (S.AWAITING_SECOND_REVIEW, E.LAPSE, S.AWAITING_SECOND_REVIEW),
    (S.AWAITING_SECOND_REVIEW, E.CONFIRM, S.DECIDED),
    (S.AWAITING_SECOND_REVIEW, E.DISAGREE, S.QUEUED),
    (S.DECIDED, E.CLOSE, S.CLOSED),
    *(
        (s, E.WITHDRAW, S.WITHDRAWN)
        for s in (S.SUBMITTED, S.QUEUED, S.IN_REVIEW, S.AWAITING_APPELLANT, S.AWAITING_SECOND_REVIEW)
    ),
    *(
        (s, E.MOOT, S.CLOSED)
        for s in (S.SUBMITTED, S.QUEUED, S.IN_REVIEW, S.AWAITING_APPELLANT, S.AWAITING_SECOND_REVIEW)
    ),
}


@pytest.mark.parametrize(("state", "event"), list(itertools.product(State, Event)))
def test_every_pair_of_state_and_event_is_allowed_exactly_as_the_table_says(
    state: State, event: Event
) -> None:
    expected = {(s, e): t for s, e, t in EXPECTED}.get((state, event))
    assert can(state, event) is (expected is not None)
    if expected is None:
        with pytest.raises(TransitionNotAllowed) as exc:
            next_state(state, event)
        assert exc.value.status == 409 and exc.value.extra["state"] == state.value
        assert set(exc.value.extra["allowed"]) == {e.value for e in events_from(state)}
    else:
        assert next_state(state, event) == expected


def test_the_table_has_no_transition_the_expectation_lacks() -> None:
    assert {(s, e, t) for (s, e), t in workflow.TRANSITIONS.items()} == EXPECTED


def test_nothing_leaves_a_terminal_state_and_every_state_can_finish() -> None:
    for state in TERMINAL_STATES:
        assert events_from(state) == []
    graph: dict[State, set[State]] = {}
    for (s, _e), t in workflow.TRANSITIONS.items():
        graph.setdefault(s, set()).add(t)

    def reach(start: State) -> set[State]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    assert reach(S.SUBMITTED) == set(State)  # every state is reachable from filing
    for state in State:
        assert reach(state) & TERMINAL_STATES, state  # and every state can still end


def test_unknown_states_and_events_are_refused() -> None:
    assert not can("lost", E.CLAIM) and not can(S.QUEUED, "teleport")
    with pytest.raises(TransitionNotAllowed):
        next_state("lost", E.CLAIM)
    with pytest.raises(TransitionNotAllowed):
        next_state(S.QUEUED, "teleport")


# ------------------------------------------------------------------------------------- the services


OFFSET = [timedelta(0)]
REACHED: Counter[str] = Counter()


class AppealMachine(RuleBasedStateMachine):
    """Random sequences of service calls on a few appeals. After every call: a refused call changed
    nothing; an accepted one moved the appeal along the table; and the invariants hold."""

    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        OFFSET[0] = timedelta(0)
        self.w = make_world(four_eyes=True, blind_review=True)
        self.staff = [self.w.alice, self.w.bob, self.w.carol, self.w.senior]
        self.appeals: list[Appeal] = []

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # -- helpers

    def _pick(self, i: int) -> Appeal:
        a = self.appeals[i % len(self.appeals)]
        a.refresh_from_db()
        return a

    def _attempt(self, a: Appeal, allowed: set[Event], call: Callable[[], Any]) -> None:
        before = a.status
        logged = _transition_events(a)
        try:
            call()
        except ApplicationError:
            a.refresh_from_db()
            assert a.status == before, "a refused call changed the state"
            assert _transition_events(a) == logged, "a refused call wrote a transition"
            return
        a.refresh_from_db()
        note_event(f"reached {a.status}")
        REACHED[a.status] += 1
        new = _transition_events(a)[len(logged) :]
        for event in new:
            assert Event(event.data["event"]) in allowed, (event.data, allowed)
        if a.status != before:
            assert new, "the state changed without an audited transition"

    # -- rules

    @precondition(lambda self: len(self.appeals) < 8 and sum(a.is_open for a in self.appeals) < 3)
    @rule(late=st.sampled_from([False, False, True]), with_file=st.booleans())
    def file(self, late: bool, with_file: bool) -> None:
        # Decisions are dated by the real clock (decision_record refuses future dates); the appeal's clock
        # runs at most 100 days ahead (time_passes), so "1 day ago" stays inside the 184-day window.
        decided = timezone.now() - timedelta(days=200 if late else 1)
        d = self.w.decision(
            decided_at=decided.isoformat(),
            human_involvement=[{"kind": "approval", "by": "EMP-ALICE", "at": decided.isoformat()}],
        )
        a = self.w.appeal(d, evidence=[("p.pdf", PDF)] if with_file else [])
        assert a.status == (S.SUBMITTED if late else S.QUEUED)
        self.appeals.append(a)

    def _refresh_all(self) -> None:
        for a in self.appeals:
            a.refresh_from_db()

    @precondition(lambda self: self.appeals)
    @rule(i=st.integers(0, 7), accept=st.booleans())
    def triage(self, i: int, accept: bool) -> None:
        a = self._pick(i)
        self._attempt(
            a,
            {E.ACCEPT, E.REFUSE},
            lambda: services.appeal_triage_late(
                appeal=a, accept=accept, reasons="Reasons given to the person.", actor=self.w.senior
            ),
        )

    @precondition(lambda self: self.appeals)
    @rule(who=st.integers(0, 3), second=st.booleans())
    def claim_next(self, who: int, second: bool) -> None:
        fn = services.review_claim_next_second if second else services.review_claim_next
        claimed = fn(reviewer=self.staff[who])
        if claimed is not None:
            assert claimed.claimed_by == self.staff[who]
            assert claimed.status in (S.IN_REVIEW, S.AWAITING_SECOND_REVIEW)

    @precondition(lambda self: self.appeals)
    @rule(i=st.integers(0, 7), by_senior=st.booleans())
    def release(self, i: int, by_senior: bool) -> None:
        a = self._pick(i)
        actor = self.w.senior if by_senior or a.claimed_by is None else a.claimed_by
        self._attempt(a, {E.RELEASE}, lambda: services.review_release(appeal=a, actor=actor))

    @precondition(lambda self: self.appeals)
    @rule(i=st.integers(0, 7), to=st.integers(0, 3))
    def reassign(self, i: int, to: int) -> None:
        a = self._pick(i)
        self._attempt(
            a, {E.ASSIGN}, lambda: services.review_reassign(appeal=a, to=self.staff[to], actor=self.w.senior)
        )

    @precondition(lambda self: self.appeals)
    @rule(i=st.integers(0, 7), who=st.integers(0, 3))
    def open_everything(self, i: int, who: int) -> None:
        a = self._pick(i)
        self._attempt(a, set(), lambda: self.w.open_everything(a, self.staff[who]))

    @precondition(lambda self: self.appeals)
    @rule(i=st.integers(0, 7), outcome=st.sampled_from(["approved", "declined"]))
    def claimant_reads_the_case(self, i: int, outcome: str) -> None:
        """The claimant opens everything and records their blind assessment (the usual way to work)."""
        a = self._pick(i)
        if a.claimed_by is None:
            return
        who = a.claimed_by

        def work() -> None:
            self.w.open_everything(a, who)
            if (
                a.status == S.IN_REVIEW
                and not a.reviews.filter(reviewer=who, blind_at__isnull=False).exists()
            ):
                services.review_record_blind_assessment(appeal=a, reviewer=who, outcome=outcome)

        self._attempt(a, set(), work)

    @precondition(lambda self: self.appeals)
    @rule(i=st.integers(0, 7), outcome=st.sampled_from(["approved", "declined"]))
    def blind(self, i: int, outcome: str) -> None:
        a = self._pick(i)
        who = a.claimed_by or self.w.bob
        self._attempt(
            a, set(), lambda: services.review_record_blind_assessment(appeal=a, reviewer=who, outcome=outcome)
        )

    @precondition(lambda self: self.appeals)
    @rule(i=st.integers(0, 7), outcome=st.sampled_from(["upheld", "overturned"]), who=st.integers(0, 3))
    def decide(self, i: int, outcome: str, who: int) -> None:
        a = self._pick(i)
        reviewer = a.claimed_by if a.claimed_by and who else self.staff[who]
        self._attempt(
            a,
            {E.DECIDE, E.DECIDE_FOR_SECOND_REVIEW},
            lambda: services.review_decide(
                appeal=a,
                reviewer=reviewer,
                outcome=outcome,
                rationale=RATIONALE,
                evidence_relied_on=["statement"],
            ),
        )

    @precondition(lambda self: self.appeals)
    @rule(i=st.integers(0, 7), confirm=st.booleans(), who=st.integers(0, 3))
    def confirm_second(self, i: int, confirm: bool, who: int) -> None:
        a = self._pick(i)
        reviewer = a.claimed_by if a.claimed_by and who else self.staff[who]
        self._attempt(
            a,
            {E.CONFIRM, E.DISAGREE},
            lambda: services.review_confirm_second(
                appeal=a, reviewer=reviewer, confirm=confirm, rationale=RATIONALE
            ),
        )

    @precondition(lambda self: self.appeals)
    @rule(
        i=st.integers(0, 7), outcome=st.sampled_from(["upheld", "upheld", "overturned"]), agree=st.booleans()
    )
    def progress(self, i: int, outcome: str, agree: bool) -> None:
        """The next natural step for the appeal's state, so that runs reach the deep states too."""
        a = self._pick(i)
        first = a.reviews.filter(stage=Review.Stage.FIRST, decided_at__isnull=False).first()
        second = next(
            (u for u in (self.w.bob, self.w.carol, self.w.senior) if first is None or u != first.reviewer),
            None,
        )
        steps: dict[str, tuple[set[Event], Callable[[], Any]]] = {
            S.SUBMITTED: (
                {E.ACCEPT},
                lambda: services.appeal_triage_late(
                    appeal=a, accept=True, reasons="Good cause shown.", actor=self.w.senior
                ),
            ),
            S.QUEUED: (
                {E.ASSIGN},
                lambda: services.review_reassign(appeal=a, to=self.w.bob, actor=self.w.senior),
            ),
            S.AWAITING_APPELLANT: (
                {E.INFORMATION_RECEIVED},
                lambda: services.information_reply(appeal=a, reply="Here it is.", actor=self.w.person),
            ),
            S.DECIDED: ({E.CLOSE}, lambda: services.appeal_close(appeal=a, actor=self.w.senior)),
        }
        if a.status == S.IN_REVIEW and a.claimed_by is not None:
            who = a.claimed_by

            def work() -> None:
                self.w.open_everything(a, who)
                if not a.reviews.filter(reviewer=who, blind_at__isnull=False).exists():
                    services.review_record_blind_assessment(appeal=a, reviewer=who, outcome="approved")
                services.review_decide(
                    appeal=a,
                    reviewer=who,
                    outcome=outcome,
                    rationale=RATIONALE,
                    evidence_relied_on=["statement"],
                )

            steps[S.IN_REVIEW] = ({E.DECIDE, E.DECIDE_FOR_SECOND_REVIEW}, work)
        if a.status == S.AWAITING_SECOND_REVIEW and second is not None:

            def confirm() -> None:
                if a.claimed_by_id is None:
                    services.review_reassign(appeal=a, to=second, actor=self.w.senior)
                    a.refresh_from_db()
                who = a.claimed_by
                assert who is not None
                self.w.open_everything(a, who)
                services.review_confirm_second(appeal=a, reviewer=who, confirm=agree, rationale=RATIONALE)

            steps[S.AWAITING_SECOND_REVIEW] = ({E.ASSIGN, E.CONFIRM, E.DISAGREE}, confirm)
        if a.status in steps:
            allowed, call = steps[a.status]
            self._attempt(a, allowed, call)

    @precondition(lambda self: self.appeals)
    @rule(i=st.integers(0, 7))
    def ask(self, i: int) -> None:
        a = self._pick(i)
        who = a.claimed_by or self.w.bob
        self._attempt(
            a,
            {E.REQUEST_INFORMATION},
            lambda: services.information_request(
                appeal=a, reviewer=who, question="Which month?", reply_days=3
            ),
        )

    @precondition(lambda self: self.appeals)
    @rule(i=st.integers(0, 7))
    def reply(self, i: int) -> None:
        a = self._pick(i)
        self._attempt(
            a,
            {E.INFORMATION_RECEIVED},
            lambda: services.information_reply(appeal=a, reply="March.", actor=self.w.person),
        )

    @precondition(lambda self: self.appeals)
    @rule(i=st.integers(0, 7), really=st.integers(0, 3))
    def withdraw(self, i: int, really: int) -> None:
        if really:  # people withdraw now and then, not at every step
            return
        a = self._pick(i)
        self._attempt(a, {E.WITHDRAW}, lambda: services.appeal_withdraw(appeal=a, actor=self.w.person))

    @precondition(lambda self: self.appeals)
    @rule(i=st.integers(0, 7))
    def close(self, i: int) -> None:
        a = self._pick(i)
        self._attempt(a, {E.CLOSE}, lambda: services.appeal_close(appeal=a, actor=self.w.senior))

    @precondition(lambda self: self.appeals and OFFSET[0] < timedelta(days=100))
    @rule(days=st.sampled_from([0.01, 0.01, 0.01, 1, 5, 40]))
    def time_passes(self, days: float) -> None:
        """Claims lapse, questions time out and overdue appeals escalate as time goes by."""
        OFFSET[0] += timedelta(days=days)
        before = {a.pk: (a.status, len(_transition_events(a))) for a in Appeal.objects.all()}
        services.claims_release_lapsed()
        services.information_requests_expire()
        services.escalate_overdue()
        for a in Appeal.objects.all():
            for event in _transition_events(a)[before[a.pk][1] :]:
                assert Event(event.data["event"]) in {E.LAPSE, E.INFORMATION_TIMEOUT}

    # -- invariants

    @invariant()
    def every_appeal_is_in_a_legal_state_reached_through_audited_steps(self) -> None:
        for a in Appeal.objects.select_related("decision"):
            assert a.status in set(State)
            path = _transition_events(a)
            current = S.SUBMITTED
            for event in path:
                assert event.data["from"] == current, "a transition was skipped in the audit log"
                current = next_state(current, event.data["event"])
                assert event.data["to"] == current
            assert current == a.status, "the audit log does not end where the appeal is"

    @invariant()
    def claims_pauses_and_stays_agree_with_the_state(self) -> None:
        open_per_decision: dict[Any, int] = {}
        for a in Appeal.objects.select_related("decision"):
            if a.status in (S.IN_REVIEW, S.AWAITING_APPELLANT):
                assert a.claimed_by_id is not None
            if a.claimed_by_id is not None:
                assert a.status in (S.IN_REVIEW, S.AWAITING_APPELLANT, S.AWAITING_SECOND_REVIEW)
            assert (a.clock_paused_at is not None) == (a.status == S.AWAITING_APPELLANT)
            if a.stay == Appeal.Stay.APPLIED:  # S18: a stay lasts exactly as long as the open appeal
                assert a.status in OPEN_STATES and a.decision.status == Decision.Status.STAYED
            if a.status in OPEN_STATES:
                open_per_decision[a.decision_id] = open_per_decision.get(a.decision_id, 0) + 1
            if a.outcome == Appeal.Outcome.OVERTURNED:
                assert a.decision.status == Decision.Status.REVERSED
        assert all(n == 1 for n in open_per_decision.values())
        for d in Decision.objects.filter(status=Decision.Status.STAYED):
            stays = Appeal.objects.filter(decision=d, stay=Appeal.Stay.APPLIED, status__in=list(OPEN_STATES))
            assert stays.count() == 1

    @invariant()
    def every_decision_was_meaningful_independent_and_four_eyed(self) -> None:
        for review in Review.objects.filter(decided_at__isnull=False).select_related("appeal", "reviewer"):
            assert review.reviewer != self.w.alice  # Alice approved every original decision (S22)
            assert EvidenceOpened.objects.filter(
                appeal=review.appeal, reviewer=review.reviewer, evidence__isnull=True
            ).exists()  # S21
            if review.stage == Review.Stage.FIRST:
                assert review.blind_at is not None  # S23
        for a in Appeal.objects.filter(outcome=Appeal.Outcome.UPHELD):
            second = a.reviews.filter(stage=Review.Stage.SECOND, confirmed=True).first()
            assert second is not None  # S24
            first = a.reviews.filter(stage=Review.Stage.FIRST, decided_at__isnull=False).first()
            assert first is not None and first.reviewer_id != second.reviewer_id


def _transition_events(a: Appeal) -> list[AuditEvent]:
    return [
        e
        for e in AuditEvent.objects.filter(target_type="appeals.appeal", target_id=str(a.pk)).order_by("id")
        if "event" in e.data
    ]


@pytest.mark.django_db
def test_no_sequence_of_service_calls_reaches_an_illegal_state(monkeypatch: pytest.MonkeyPatch) -> None:
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + OFFSET[0])
    run_state_machine_as_test(
        AppealMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=40,
            deadline=None,
            derandomize=True,  # the same runs every time, so the depth check below is stable
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    # The runs went deep: every state was reached through the services at least once.
    assert set(REACHED) >= {s.value for s in State} - {S.REFUSED}, dict(REACHED)


@pytest.mark.django_db
def test_every_step_of_a_long_journey_is_one_audit_event_in_order() -> None:
    w = make_world(four_eyes=True)
    a = w.appeal()
    a = services.review_claim_next(reviewer=w.bob) or a
    services.information_request(appeal=a, reviewer=w.bob, question="Which month?")
    services.information_reply(appeal=a, reply="March", actor=w.person)
    w.open_everything(a, w.bob)
    services.review_decide(
        appeal=a, reviewer=w.bob, outcome="upheld", rationale=RATIONALE, evidence_relied_on=["statement"]
    )
    services.review_claim_next_second(reviewer=w.carol)
    w.open_everything(a, w.carol)
    services.review_confirm_second(appeal=a, reviewer=w.carol, confirm=False, rationale=RATIONALE)
    services.review_reassign(appeal=a, to=w.senior, actor=w.senior)
    w.open_everything(a, w.senior)
    services.review_decide(
        appeal=a,
        reviewer=w.senior,
        outcome="overturned",
        rationale=RATIONALE,
        evidence_relied_on=["statement"],
        remedy=["refund"],
    )
    services.appeal_close(appeal=a, actor=w.senior)
    steps = [(e.data["event"], e.data["from"], e.data["to"]) for e in _transition_events(a)]
    assert steps == [
        ("accept", "submitted", "queued"),
        ("claim", "queued", "in_review"),
        ("request_information", "in_review", "awaiting_appellant"),
        ("information_received", "awaiting_appellant", "in_review"),
        ("decide_for_second_review", "in_review", "awaiting_second_review"),
        ("claim", "awaiting_second_review", "awaiting_second_review"),
        ("disagree", "awaiting_second_review", "queued"),
        ("assign", "queued", "in_review"),
        ("decide", "in_review", "decided"),
        ("close", "decided", "closed"),
    ]
