"""Reads for appeals: queues, what a reviewer may claim, independence, the case file, the timeline.

The claim query and the decide-time checks share one definition of independence (S22) and of authority
(S2, S21), so "Next case" never offers a case the reviewer would then be refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When

from appeals.models import (
    Appeal,
    ConflictDeclaration,
    DataDispute,
    EvidenceFile,
    EvidenceOpened,
    ExplanationRequest,
    Queue,
    QueueMembership,
    Review,
    ReviewerTraining,
)
from appeals.workflow import OPEN_STATES, State
from core import clock
from core.models import AuditEvent, User
from decisions.models import HumanInvolvement, ImpactLevel

REVIEWER_GROUPS = ("reviewer", "senior reviewer")
SUPERVISOR_GROUPS = ("senior reviewer", "admin")
#: Human steps that make someone part of the original decision (S22: took it, approved it, reviewed it).
INVOLVED_KINDS = (
    HumanInvolvement.Kind.DECISION,
    HumanInvolvement.Kind.APPROVAL,
    HumanInvolvement.Kind.REVIEW,
)
TRAINING_FROM_LEVEL = ImpactLevel.III


# ------------------------------------------------------------------------------------------ who may act


def has_reviewer_authority(user: Any) -> bool:
    """S21: only a reviewer with authority to change the outcome may decide (groups reviewer, senior)."""
    return isinstance(user, User) and user.is_active and user.groups.filter(name__in=REVIEWER_GROUPS).exists()


def is_supervisor(user: Any) -> bool:
    return (
        isinstance(user, User)
        and user.is_active
        and (user.is_superuser or user.groups.filter(name__in=SUPERVISOR_GROUPS).exists())
    )


def _training_q(user: User, today: date) -> QuerySet[ReviewerTraining]:
    return ReviewerTraining.objects.filter(user=user, completed_on__lte=today).filter(
        Q(expires_on__isnull=True) | Q(expires_on__gte=today)
    )


def has_training_for(user: User, system: Any, today: date | None = None) -> bool:
    """S2: at impact levels III-IV the reviewer needs recorded, current training (for this system or all)."""
    if system.impact_level < TRAINING_FROM_LEVEL:
        return True
    today = today or clock.now().date()
    return _training_q(user, today).filter(Q(system__isnull=True) | Q(system=system)).exists()


# ------------------------------------------------------------------------------------------ independence


def _conflicted(reviewer: User) -> Q:
    """An appeal the reviewer may not review (S22), as a filter on Appeal rows."""
    declared = Exists(
        ConflictDeclaration.objects.filter(reviewer=reviewer, decision_id=OuterRef("decision_id"))
    ) | Exists(
        ConflictDeclaration.objects.filter(reviewer=reviewer, subject_id=OuterRef("decision__subject_id"))
    )
    # Decided an earlier appeal on this decision (or on the one it replaced), or this appeal before
    # (a second reviewer who disagreed sends it back for fresh eyes).
    reviewed = Exists(
        Review.objects.filter(reviewer=reviewer, decided_at__isnull=False).filter(
            Q(appeal__decision_id=OuterRef("decision_id"))
            | Q(appeal__decision_id=OuterRef("decision__supersedes_id"))
        )
    )
    q: Any = declared | reviewed
    if reviewer.staff_ref:
        q |= Exists(
            HumanInvolvement.objects.filter(by=reviewer.staff_ref, kind__in=INVOLVED_KINDS).filter(
                Q(decision_id=OuterRef("decision_id")) | Q(decision_id=OuterRef("decision__supersedes_id"))
            )
        )
    return Q(q)


def independence_problems(appeal: Appeal, reviewer: User) -> list[str]:
    """Why ``reviewer`` may not review ``appeal`` (S22), in words; empty when they may."""
    d = appeal.decision
    lineage = [d.pk] + ([d.supersedes_id] if d.supersedes_id else [])
    problems = []
    if (
        reviewer.staff_ref
        and HumanInvolvement.objects.filter(
            decision_id__in=lineage, by=reviewer.staff_ref, kind__in=INVOLVED_KINDS
        ).exists()
    ):
        problems.append("took, approved or reviewed the original decision")
    earlier = Review.objects.filter(
        reviewer=reviewer, decided_at__isnull=False, appeal__decision_id__in=lineage
    )
    if earlier.exclude(appeal=appeal).exists():
        problems.append("reviewed an earlier appeal on this decision")
    if (
        earlier.filter(appeal=appeal, stage=Review.Stage.FIRST).exists()
        and appeal.status == State.AWAITING_SECOND_REVIEW
    ):
        problems.append("took the first review: the second review needs someone else")
    elif earlier.filter(appeal=appeal).exists() and appeal.status in (State.QUEUED, State.IN_REVIEW):
        problems.append("already reviewed this appeal")
    if (
        ConflictDeclaration.objects.filter(reviewer=reviewer)
        .filter(Q(decision_id=d.pk) | Q(subject_id=d.subject_id))
        .exists()
    ):
        problems.append("declared a conflict of interest")
    return problems


# ------------------------------------------------------------------------------------------ claiming


def ordering_for(ordering: str) -> list[Any]:
    """The queue's order: escalated first, then (docket) stayed, or (due date) the nearest due date, then
    the oldest filing, then the id (a total order, so claims are deterministic)."""
    stayed_first = Case(
        When(stay=Appeal.Stay.APPLIED, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    if ordering == Queue.Ordering.DUE_DATE:
        return [F("escalated").desc(), "due_date", "filed_at", "id"]
    return [F("escalated").desc(), stayed_first, "filed_at", "id"]


def claimable_appeals(
    reviewer: User, *, queue: Queue | None = None, status: str = State.QUEUED, today: date | None = None
) -> QuerySet[Appeal]:
    """Appeals ``reviewer`` may claim now: in their queues, unclaimed, independent (S22), trained (S2)."""
    today = today or clock.now().date()
    member_of = QueueMembership.objects.filter(user=reviewer).values("queue_id")
    qs = Appeal.objects.filter(status=status, claimed_by__isnull=True, queue_id__in=member_of)
    if queue is not None:
        qs = qs.filter(queue=queue)
    trained = Exists(
        _training_q(reviewer, today).filter(
            Q(system__isnull=True) | Q(system_id=OuterRef("decision__system_id"))
        )
    )
    qs = qs.filter(Q(decision__system__impact_level__lt=TRAINING_FROM_LEVEL) | trained)
    return qs.exclude(_conflicted(reviewer))


def claim_ordering(reviewer: User, queue: Queue | None) -> list[Any]:
    """The order "Next case" follows: the queue's rule; across queues, the rule they share (else docket)."""
    if queue is not None:
        return ordering_for(queue.ordering)
    rules = set(Queue.objects.filter(memberships__user=reviewer).values_list("ordering", flat=True))
    return ordering_for(rules.pop() if len(rules) == 1 else Queue.Ordering.DOCKET)


# ------------------------------------------------------------------------------------------ pages


@dataclass(frozen=True)
class QueueSummary:
    queue: Queue
    queued: int
    in_review: int
    awaiting_second_review: int
    overdue: int


def queues_for_reviewer(reviewer: User, *, today: date | None = None) -> list[QueueSummary]:
    """The reviewer's queues with counts (for "my queues" with SLA badges)."""
    today = today or clock.now().date()
    open_states = [s.value for s in OPEN_STATES]
    rows = (
        Queue.objects.filter(memberships__user=reviewer)
        .select_related("system")
        .annotate(
            n_queued=Count("appeals", filter=Q(appeals__status=State.QUEUED)),
            n_review=Count("appeals", filter=Q(appeals__status=State.IN_REVIEW)),
            n_second=Count("appeals", filter=Q(appeals__status=State.AWAITING_SECOND_REVIEW)),
            n_overdue=Count(
                "appeals",
                filter=Q(appeals__status__in=open_states, appeals__due_date__lt=today)
                & ~Q(appeals__status=State.AWAITING_APPELLANT),
            ),
        )
        .order_by("system__name", "team")
    )
    return [QueueSummary(q, q.n_queued, q.n_review, q.n_second, q.n_overdue) for q in rows]


def queue_appeals(queue: Queue, *, status: str | None = None) -> QuerySet[Appeal]:
    qs = Appeal.objects.filter(queue=queue).select_related(
        "decision", "decision__system", "decision__subject", "claimed_by"
    )
    if status:
        qs = qs.filter(status=status)
    return qs.order_by(*ordering_for(queue.ordering))


def reviewer_claims(reviewer: User) -> QuerySet[Appeal]:
    """What the reviewer holds now."""
    return (
        Appeal.objects.filter(
            claimed_by=reviewer,
            status__in=[State.IN_REVIEW, State.AWAITING_APPELLANT, State.AWAITING_SECOND_REVIEW],
        )
        .select_related("decision", "decision__system")
        .order_by("due_date", "filed_at")
    )


def second_review_queue(reviewer: User) -> QuerySet[Appeal]:
    """Upheld at high impact and waiting for a second, independent reviewer (S24)."""
    return (
        claimable_appeals(reviewer, status=State.AWAITING_SECOND_REVIEW)
        .select_related("decision", "decision__system")
        .order_by(*ordering_for(Queue.Ordering.DOCKET))
    )


def appeal_for_decision(decision: Any) -> Appeal | None:
    """The open appeal on ``decision``, if any."""
    return Appeal.objects.filter(decision=decision, status__in=[s.value for s in OPEN_STATES]).first()


def appeals_of_decision(decision: Any) -> QuerySet[Appeal]:
    return Appeal.objects.filter(decision=decision).order_by("filed_at")


def unopened_items(appeal: Appeal, reviewer: User) -> list[str]:
    """S21: what the reviewer has not opened yet: "statement" and the ids of evidence files."""
    opened = set(
        EvidenceOpened.objects.filter(appeal=appeal, reviewer=reviewer).values_list("evidence_id", flat=True)
    )
    missing = [] if None in opened else ["statement"]
    missing += [str(pk) for pk in appeal.evidence.values_list("pk", flat=True) if pk not in opened]
    return missing


def machine_outcome_visible(appeal: Appeal, reviewer: User) -> bool:
    """S23: where the system requires blind review, the machine's outcome and score stay hidden from the
    first reviewer until they record an initial assessment."""
    if not appeal.decision.system.blind_review or appeal.status not in (
        State.QUEUED,
        State.IN_REVIEW,
        State.AWAITING_APPELLANT,
    ):
        return True
    return Review.objects.filter(
        appeal=appeal, reviewer=reviewer, stage=Review.Stage.FIRST, blind_at__isnull=False
    ).exists()


def case_file(appeal: Appeal, reviewer: User) -> dict[str, Any]:
    """What the case page shows side by side. The machine's outcome and score are None while blind."""
    d = appeal.decision
    visible = machine_outcome_visible(appeal, reviewer)
    return {
        "appeal": appeal,
        "decision": d,
        "machine": {"outcome": d.outcome, "score": d.score, "adverse": d.adverse, "band": d.band}
        if visible
        else None,
        # The inputs are the person's data and are always shown; only the machine's verdict is hidden.
        "inputs": list(d.inputs.select_related("feature").order_by("feature__name")),
        "evidence": list(appeal.evidence.all()),
        "unopened": unopened_items(appeal, reviewer),
        "information_requests": list(appeal.information_requests.all()),
        "reviews": list(appeal.reviews.select_related("reviewer", "blind_outcome", "new_outcome")),
        "timeline": list(appeal_timeline(appeal)),
    }


#: What happened to the decision because of the appeal, shown in the appeal's timeline.
DECISION_STEPS = (
    "decision.stayed",
    "decision.stay_lifted",
    "decision.effective",
    "decision.superseded",
    "decision.reversed",
    "decision.modified",
    "decision.rescored",
)


def appeal_timeline(appeal: Appeal) -> QuerySet[AuditEvent]:
    """Every audited step of the case (the audit log is the history), with what the appeal did to the
    decision (stayed, effect, reversed...) from the filing on."""
    own = Q(target_type=Appeal._meta.label_lower, target_id=str(appeal.pk))
    decision = Q(
        target_type="decisions.decision",
        target_id=str(appeal.decision_id),
        action__in=DECISION_STEPS,
        occurred_at__gte=appeal.filed_at,
    )
    return AuditEvent.objects.filter(own | decision).order_by("occurred_at", "id")


def overdue_appeals(*, at: datetime | None = None) -> QuerySet[Appeal]:
    """Appeals whose clock runs and whose due date has passed (roughly, in UTC; the task checks the zone)."""
    moment = at or clock.now()
    running = [s.value for s in OPEN_STATES if s != State.AWAITING_APPELLANT]
    return Appeal.objects.filter(status__in=running, due_date__lt=moment.date()).order_by("due_date")


def overdue_disputes(*, at: datetime | None = None) -> QuerySet[DataDispute]:
    """Open data disputes past their 30 (or 45) days (S19), oldest first, for staff lists."""
    moment = at or clock.now()
    return (
        DataDispute.objects.filter(status=DataDispute.Status.OPEN, due_date__lt=moment.date())
        .select_related("decision", "decision__system")
        .order_by("due_date")
    )


def overdue_explanation_requests(*, at: datetime | None = None) -> QuerySet[ExplanationRequest]:
    """Open explanation requests past their due date (S20), oldest first, for staff lists."""
    moment = at or clock.now()
    return (
        ExplanationRequest.objects.filter(status=ExplanationRequest.Status.OPEN, due_date__lt=moment.date())
        .select_related("decision", "decision__system")
        .order_by("due_date")
    )


def evidence_path(evidence: EvidenceFile) -> Path:
    """Where the file is on disk, refusing any stored path that would leave MEDIA_ROOT."""
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / evidence.path).resolve()
    if root not in path.parents:
        raise ValueError("evidence path outside MEDIA_ROOT")
    return path


@dataclass(frozen=True)
class ReviewerFigures:
    """S23: per reviewer, agreement with the machine and time spent (oversight flags rubber-stamping)."""

    reviews: int
    agreed: int
    median_seconds: int | None

    @property
    def agreement_rate(self) -> float | None:
        return self.agreed / self.reviews if self.reviews else None


def reviewer_figures(reviewer: User) -> ReviewerFigures:
    rows = list(
        Review.objects.filter(
            reviewer=reviewer, stage=Review.Stage.FIRST, decided_at__isnull=False
        ).values_list("agrees_with_machine", "seconds_spent")
    )
    seconds = sorted(s for _a, s in rows if s is not None)
    return ReviewerFigures(
        reviews=len(rows),
        agreed=sum(1 for a, _s in rows if a),
        median_seconds=seconds[len(seconds) // 2] if seconds else None,
    )
