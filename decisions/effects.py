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

from core import audit
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
    from notifications.webhooks import webhook_emit

    for d in decisions:
        if d.recorded_by_id is not None and d.recorded_by is not None:
            webhook_emit(
                client=d.recorded_by,
                event_type="decision.effective",
                payload=_webhook_payload(d),
                actor=actor,
            )


def decision_effect_start(
    *, decision_id: Any, delivered_at: datetime, actor: Any, notice_id: str = ""
) -> Decision | None:
    """Start the effect of an adverse decision whose notice was delivered at ``delivered_at`` (S11)."""
    with transaction.atomic():
        d = (
            Decision.objects.select_for_update(of=("self",))
            .select_related("system", "subject", "recorded_by")
            .filter(pk=decision_id)
            .first()
        )
        if (
            d is None
            or not d.adverse
            or d.status != Decision.Status.PENDING_NOTICE
            or d.effective_at is not None
        ):
            return d
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
            d.save(update_fields=["status", "effective_at"])
            audit.record(actor=actor, action="decision.effective", target=d, data=data)
            _tell_integrator([d], actor)
        else:
            d.save(update_fields=["effective_at"])
            audit.record(actor=actor, action="decision.effect_scheduled", target=d, data=data)
        return d


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
