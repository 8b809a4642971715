"""When an adverse decision takes effect (S11): only once its notice is delivered, after any notice period.

``notifications`` calls ``decision_notice_delivered(notice)`` (registered in ``DecisionsConfig.ready``) inside
the transaction that marks a decision notice delivered. The first delivered notice of an adverse decision
that is pending notice starts its effect:

- with no notice period (``system.notice_period_days == 0``) the decision becomes ``effective`` at once
  (audit ``decision.effective``);
- with a period, ``effective_at`` is set to delivery + period and the status stays ``pending_notice``
  (audit ``decision.effect_scheduled``); the periodic task ``decisions.tasks.make_due_decisions_effective``
  flips it when the time comes (audit ``decision.effective``).

Which delivery counts: the one that reaches the person. When the decision has an email notice, only its
delivery starts the effect; the portal-inbox copy is "delivered" the moment it exists, so it proves nothing
about the person having been told. The portal notice counts only when it is the decision's sole notice (no
address on record: the institution reaches the person by post, outside this system, and the inbox is the
proof of what was said). Later deliveries change nothing: ``effective_at`` is already set.
A decision waiting for a human decision (S2), stayed, reversed or superseded is left alone. The integrator
is told by a signed ``decision.effective`` webhook when the decision takes effect.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from core import audit, bulk
from core.actors import SYSTEM
from decisions.models import Decision

if TYPE_CHECKING:
    from notifications.models import Notice

DECISION_TOPIC = "decisions.decision"
BATCH = 500


def _webhook_payload(d: Decision) -> dict[str, Any]:
    return {
        "type": "decision.effective",
        "decision": {
            "id": str(d.pk),
            "external_id": d.external_id,
            "system": d.system.slug,
            "public_reference": d.public_reference,
            "status": d.status,
            "effective_at": d.effective_at.isoformat() if d.effective_at else None,
        },
    }


def _tell_integrator(decisions: list[Decision], actor: Any) -> None:
    from notifications.webhooks import webhook_emit_many

    webhook_emit_many(
        events=[
            (d.recorded_by, "decision.effective", _webhook_payload(d))
            for d in decisions
            if d.recorded_by_id is not None and d.recorded_by is not None
        ],
        actor=actor,
    )


def decision_effect_start(
    *, decision_id: Any, delivered_at: datetime, actor: Any, notice_id: str = ""
) -> Decision | None:
    """Start the effect of an adverse decision whose notice was delivered at ``delivered_at`` (S11)."""
    with transaction.atomic():
        started = decisions_effect_start_many(starts=[(decision_id, delivered_at, notice_id)], actor=actor)
        if started:
            return started[0]
        return (
            Decision.objects.filter(pk=decision_id).select_related("system", "subject", "recorded_by").first()
        )


def _has_email_notice(notice: Notice) -> bool:
    from notifications.models import Notice as NoticeModel

    return NoticeModel.objects.filter(
        topic_type=notice.topic_type, topic_id=notice.topic_id, kind=notice.kind, channel="email"
    ).exists()


def decision_notice_delivered(notice: Notice) -> None:
    """The delivered handler for decision notices (registered with notifications in DecisionsConfig)."""
    if notice.topic_type != DECISION_TOPIC:
        return
    if notice.channel != "email" and _has_email_notice(notice):
        return  # wait for the notice that actually reaches the person
    decision_effect_start(
        decision_id=notice.topic_id,
        delivered_at=notice.delivered_at or timezone.now(),
        actor=SYSTEM,
        notice_id=str(notice.pk),
    )


def decision_notices_delivered(notices: list[Notice]) -> None:
    """``decision_notice_delivered`` for a chunk of notices delivered together (registered as its ``many``
    variant): the same decisions start their effect, with the same data and events, as calling it on each
    notice in turn would, in a few statements whatever the chunk's size."""
    from notifications.models import Notice as NoticeModel

    relevant = [n for n in notices if n.topic_type == DECISION_TOPIC]
    quiet = [n for n in relevant if n.channel != "email"]
    with_email: set[tuple[str, str]] = set()
    if quiet:
        with_email = set(
            NoticeModel.objects.filter(
                topic_type=DECISION_TOPIC,
                topic_id__in={n.topic_id for n in quiet},
                kind__in={n.kind for n in quiet},
                channel="email",
            ).values_list("topic_id", "kind")
        )
    starts = [
        (n.topic_id, n.delivered_at or timezone.now(), str(n.pk))
        for n in relevant
        if n.channel == "email" or (n.topic_id, n.kind) not in with_email
    ]
    if starts:
        decisions_effect_start_many(starts=starts, actor=SYSTEM)


def decisions_effect_start_many(*, starts: list[tuple[Any, datetime, str]], actor: Any) -> list[Decision]:
    """``decision_effect_start`` for many (decision id, delivered at, notice id), in order: the first start
    of a decision counts, later ones find its effect started and change nothing. Returns the decisions
    whose effect started or was scheduled."""
    with transaction.atomic():
        locked = {
            str(d.pk): d
            for d in Decision.objects.select_for_update(of=("self",))
            .select_related("system", "subject", "recorded_by")
            .filter(pk__in={decision_id for decision_id, _at, _notice in starts})
        }
        effective: list[Decision] = []
        scheduled: list[Decision] = []
        events: list[audit.PendingEvent] = []
        for decision_id, delivered_at, notice_id in starts:
            d = locked.get(str(decision_id))
            if (
                d is None
                or not d.adverse
                or d.status != Decision.Status.PENDING_NOTICE
                or d.effective_at is not None
            ):
                continue
            period = int(d.system.notice_period_days)
            d.effective_at = delivered_at + timedelta(days=period)
            data = {
                "subject": d.subject.pseudonym,
                "notice": notice_id,
                "delivered_at": delivered_at.isoformat(),
                "effective_at": d.effective_at.isoformat(),
                "notice_period_days": period,
            }
            if period == 0:
                d.status = Decision.Status.EFFECTIVE
                effective.append(d)
                events.append(
                    audit.PendingEvent(actor=actor, action="decision.effective", target=d, data=data)
                )
            else:
                scheduled.append(d)
                events.append(
                    audit.PendingEvent(actor=actor, action="decision.effect_scheduled", target=d, data=data)
                )
        # Each row has its own effective_at: one prepared UPDATE per row, sent together (core.bulk).
        bulk.update_rows(Decision, effective, ["status", "effective_at"])
        bulk.update_rows(Decision, scheduled, ["effective_at"])
        audit.record_many(events)
        _tell_integrator(effective, actor)
    return effective + scheduled


def decisions_make_due_effective(*, now: datetime | None = None, actor: Any = SYSTEM) -> int:
    """Make effective every adverse decision whose notice period has run out. Returns how many changed.

    Safe to run from several workers at once: rows are locked (skipping those another worker holds) and
    changed only while still pending notice."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            due = list(
                Decision.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=Decision.Status.PENDING_NOTICE, adverse=True, effective_at__lte=now)
                .order_by("effective_at")[:BATCH]
            )
            if not due:
                return total
            Decision.objects.filter(pk__in=[d.pk for d in due]).update(status=Decision.Status.EFFECTIVE)
            loaded = list(
                Decision.objects.filter(pk__in=[d.pk for d in due]).select_related(
                    "system", "subject", "recorded_by"
                )
            )
            audit.record_many(
                audit.PendingEvent(
                    actor=actor,
                    action="decision.effective",
                    target=d,
                    data={
                        "subject": d.subject.pseudonym,
                        "effective_at": d.effective_at.isoformat() if d.effective_at else None,
                        "notice_period_days": d.system.notice_period_days,
                    },
                )
                for d in loaded
            )
            _tell_integrator(loaded, actor)
            total += len(due)
