"""Rows for the figures tests, written straight into the tables with the times a test needs.

The figures only read what the services wrote, so these builders set every column the services would
(decisions, notices, appeals, reviews) without going through the clock: a fixture can sit in any month.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

from appeals.models import Appeal, Review
from decisions.models import Decision, DecisionSystem, Outcome, Subject, SystemVersion
from notifications.models import Notice

_n = itertools.count(1)


def subject(system: DecisionSystem, pseudonym: str | None = None) -> Subject:
    n = next(_n)
    return Subject.objects.create(
        system=system, external_ref=f"ext-{n:06d}", pseudonym=pseudonym or f"subj_test{n:011d}"
    )


def decision(
    version: SystemVersion,
    recorded_at: datetime,
    *,
    adverse: bool = True,
    automation: str = Decision.Automation.FULL,
    subject_: Subject | None = None,
    supersedes: Decision | None = None,
    status: str = Decision.Status.EFFECTIVE,
) -> Decision:
    n = next(_n)
    system = version.system
    outcome = Outcome.objects.filter(version=version, adverse=adverse).order_by("pk").first()
    assert outcome is not None
    return Decision.objects.create(
        system=system,
        version=version,
        external_id=f"x-{n:06d}",
        public_reference=f"TST-{n:04d}-{n % 9999:04d}",
        subject=subject_ or subject(system),
        outcome=outcome,
        adverse=adverse,
        automation=automation,
        automated_detection=automation == Decision.Automation.FULL,
        automated_decision=automation == Decision.Automation.FULL,
        inputs_snapshot={},
        inputs_hash="0" * 64,
        payload_hash="0" * 64,
        status=status,
        decided_at=recorded_at - timedelta(minutes=1),
        recorded_at=recorded_at,
        supersedes=supersedes,
    )


def notice(
    d: Decision,
    *,
    delivered_at: datetime | None = None,
    channel: str = Notice.Channel.PORTAL,
    due_days: int | None = None,
) -> Notice:
    due = d.recorded_at + timedelta(days=d.system.notice_due_days if due_days is None else due_days)
    return Notice.objects.create(
        kind=Notice.Kind.DECISION,
        topic_type="decisions.decision",
        topic_id=str(d.pk),
        recipient=d.subject.pseudonym,
        channel=channel,
        subject="Your decision",
        body_text="text",
        template_key="credit/decision",
        template_version="1",
        due_at=due,
        created_at=d.recorded_at,
        status=Notice.Status.DELIVERED if delivered_at else Notice.Status.PENDING,
        delivered_at=delivered_at,
        dedupe_key=f"decision:{d.pk}:{channel}",
    )


def appeal(
    d: Decision,
    filed_at: datetime,
    *,
    due_date: date,
    decided_at: datetime | None = None,
    outcome: str = "",
    status: str | None = None,
    escalation_count: int = 0,
    withdrawn_at: datetime | None = None,
    triaged_at: datetime | None = None,
    closed_at: datetime | None = None,
) -> Appeal:
    n = next(_n)
    if status is None:
        status = "decided" if decided_at else ("withdrawn" if withdrawn_at else "queued")
    return Appeal.objects.create(
        reference=f"APL-{n:04d}-{n % 9999:04d}",
        decision=d,
        status=status,
        channel="portal",
        statement="I disagree.",
        filed_at=filed_at,
        appeal_deadline=due_date,
        original_due_date=due_date,
        due_date=due_date,
        outcome=outcome,
        decided_at=decided_at,
        escalated=escalation_count > 0,
        escalation_count=escalation_count,
        withdrawn_at=withdrawn_at,
        triaged_at=triaged_at,
        closed_at=closed_at,
        created_at=filed_at,
    )


def review(
    a: Appeal,
    reviewer: Any,
    *,
    decided_at: datetime,
    seconds_spent: int,
    outcome: str,
    blind_outcome: Outcome | None = None,
    stage: str = Review.Stage.FIRST,
    confirmed: bool | None = None,
) -> Review:
    return Review.objects.create(
        appeal=a,
        reviewer=reviewer,
        stage=stage,
        started_at=decided_at - timedelta(seconds=seconds_spent),
        blind_outcome=blind_outcome,
        blind_at=(decided_at - timedelta(seconds=seconds_spent // 2)) if blind_outcome else None,
        outcome=outcome,
        rationale="Because the record shows it.",
        decided_at=decided_at,
        seconds_spent=seconds_spent,
        agrees_with_machine=(outcome == Appeal.Outcome.UPHELD) if stage == Review.Stage.FIRST else None,
        confirmed=confirmed,
    )
