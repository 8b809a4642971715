"""The stop switch (S29): a system whose machine keeps being corrected on appeal suspends itself.

For each version of a live system, over a rolling window (``OVERSIGHT_STOP_SWITCH_WINDOW_DAYS``, default
90 days) ending now::

    overturn rate = (appeals overturned + appeals modified) / appeals decided

counting appeals whose outcome was recorded in the window (after the second review where four eyes apply),
by the version of the decision appealed. The switch trips when, for some version,

    decided >= system.stop_switch_min_sample   and   rate > system.stop_switch_overturn_rate

Strictly above the threshold ("above a threshold", SAFEGUARDS S29): a rate exactly at the threshold is
tolerated, one more changed outcome trips it. The comparison is exact (integers against the stored decimal:
``changed > threshold * decided``), never a float that might land either side.

Tripping suspends the system through ``decisions.services.system_suspend`` (from then on every new adverse
outcome is recorded but waits for a human decision, ``awaiting_human``, instead of taking effect) and opens
an ``Incident`` with its reporting due date, in one transaction under a lock on the system row, so two
evaluations at once (after an outcome, and the periodic sweep) open one incident.

When it runs
    After every appeal outcome (``stop_switch_after_outcome``, registered with appeals: it queues an
    evaluation of that system after the outcome commits, so the reviewer's transaction never waits on it),
    and for every live system every few minutes (``oversight.controls_tasks.stop_switch_sweep``).

Resuming
    Only staff (senior reviewer or admin) switch a suspended system back on (``system_resume``): through
    ``decisions.services.system_go_live`` (which checks S1/S2 again), audited with the incidents it ends.
    From then on the window starts at the resume: the appeals that tripped the switch have been looked at
    and must not trip it again straight away; new overturns count as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q

from appeals.models import Appeal
from core import audit, clock
from core.actors import SYSTEM, as_actor
from core.errors import TransitionNotAllowed
from core.ids import public_reference
from decisions import services as decision_services
from decisions.models import DecisionSystem, SystemVersion
from oversight.controls_models import Incident
from oversight.incidents import append_note, reporting_due_for, require_controller

DEFAULT_WINDOW_DAYS = 90
_DECIDED = (Appeal.Outcome.UPHELD, Appeal.Outcome.OVERTURNED, Appeal.Outcome.MODIFIED)


def window_days() -> int:
    return int(getattr(settings, "OVERSIGHT_STOP_SWITCH_WINDOW_DAYS", DEFAULT_WINDOW_DAYS))


@dataclass(frozen=True)
class VersionRate:
    """One version's appeal outcomes over the window."""

    system_id: int
    version_id: int
    decided: int
    overturned: int
    modified: int
    window_start: datetime

    @property
    def changed(self) -> int:
        return self.overturned + self.modified

    @property
    def rate(self) -> Decimal | None:
        if not self.decided:
            return None
        return (Decimal(self.changed) / Decimal(self.decided)).quantize(Decimal("0.0001"), ROUND_HALF_UP)


def trips(system: DecisionSystem, r: VersionRate) -> bool:
    """True when ``r`` is past the system's threshold with enough decided appeals (see the module doc)."""
    return r.decided >= max(1, system.stop_switch_min_sample) and Decimal(r.changed) > (
        Decimal(system.stop_switch_overturn_rate) * r.decided
    )


def window_start(system: DecisionSystem, now: datetime) -> datetime:
    """The start of the rolling window: ``window_days()`` back, or the last resume if that is later."""
    start = now - timedelta(days=window_days())
    resumed = Incident.objects.filter(system=system, resumed_at__isnull=False).aggregate(m=Max("resumed_at"))
    last = resumed["m"]
    return max(start, last) if last is not None else start


def version_rates(system: DecisionSystem, *, now: datetime | None = None) -> list[VersionRate]:
    """The overturn rate of each version of ``system`` with appeals decided in the window (one query)."""
    now = now or clock.now()
    start = window_start(system, now)
    rows = (
        Appeal.objects.filter(
            decision__system_id=system.pk,
            outcome__in=_DECIDED,
            decided_at__gte=start,
            decided_at__lte=now,
        )
        .values("decision__version_id")
        .annotate(
            decided=Count("pk"),
            overturned=Count("pk", filter=Q(outcome=Appeal.Outcome.OVERTURNED)),
            modified=Count("pk", filter=Q(outcome=Appeal.Outcome.MODIFIED)),
        )
        .order_by("decision__version_id")
    )
    return [
        VersionRate(
            system_id=system.pk,
            version_id=row["decision__version_id"],
            decided=row["decided"],
            overturned=row["overturned"],
            modified=row["modified"],
            window_start=start,
        )
        for row in rows
    ]


def stop_switch_evaluate(
    *, system: DecisionSystem | Any, actor: Any = SYSTEM, now: datetime | None = None
) -> Incident | None:
    """Evaluate one system: suspend it and open an incident if a version is past its threshold.

    Returns the incident opened, or None (not live, or nothing past the threshold). Safe to run at the
    same time as another evaluation of the same system: the system row is locked, and a system found
    suspended is left alone.
    """
    pk: Any = getattr(system, "pk", system)
    with transaction.atomic():
        locked = DecisionSystem.objects.select_for_update().get(pk=pk)
        if locked.status != DecisionSystem.Status.LIVE:
            return None
        now = now or clock.now()
        tripping = [r for r in version_rates(locked, now=now) if trips(locked, r)]
        if not tripping:
            return None
        worst = max(tripping, key=lambda r: (r.rate or Decimal(0), r.decided))
        version = SystemVersion.objects.get(pk=worst.version_id)
        rate = worst.rate or Decimal(0)
        reason = (
            f"Stop switch: version {version.version} had {worst.changed} of {worst.decided} appeal "
            f"outcomes overturned or modified ({rate:.1%}) since {worst.window_start:%Y-%m-%d}, above the "
            f"threshold of {Decimal(locked.stop_switch_overturn_rate):.1%} (S29)."
        )
        decision_services.system_suspend(system=locked, actor=actor, reason=reason)
        incident = Incident.objects.create(
            reference=_fresh_reference(),
            system=locked,
            version=version,
            overturn_rate=rate,
            threshold=locked.stop_switch_overturn_rate,
            sample=worst.decided,
            overturned=worst.overturned,
            modified=worst.modified,
            min_sample=locked.stop_switch_min_sample,
            window_days=window_days(),
            window_start=worst.window_start,
            opened_at=now,
            reporting_due=reporting_due_for(locked, now, widespread=False),
        )
        audit.record(
            actor=actor,
            action="incident.opened",
            target=incident,
            data={
                "incident": incident.reference,
                "system": locked.slug,
                "version": version.version,
                "overturn_rate": str(rate),
                "threshold": str(locked.stop_switch_overturn_rate),
                "decided": worst.decided,
                "overturned": worst.overturned,
                "modified": worst.modified,
                "min_sample": locked.stop_switch_min_sample,
                "window_start": worst.window_start.isoformat(),
                "reporting_due": incident.reporting_due.isoformat(),
                "other_versions_tripping": len(tripping) - 1,
            },
        )
    return incident


def stop_switch_sweep(*, now: datetime | None = None, actor: Any = SYSTEM) -> list[Incident]:
    """Evaluate every live system (the periodic task). Returns the incidents opened."""
    opened = []
    ids = list(DecisionSystem.objects.filter(status=DecisionSystem.Status.LIVE).values_list("pk", flat=True))
    for pk in ids:
        incident = stop_switch_evaluate(system=pk, actor=actor, now=now)
        if incident is not None:
            opened.append(incident)
    return opened


def stop_switch_after_outcome(appeal: Appeal) -> None:
    """The handler appeals calls when an appeal's outcome is recorded (inside its transaction): evaluate the
    appeal's system once that transaction has committed (a Celery task; in process when eager)."""
    from oversight.controls_tasks import stop_switch_check

    system_id = appeal.decision.system_id
    transaction.on_commit(lambda: stop_switch_check.delay(system_id), robust=True)


def system_resume(*, system: DecisionSystem | Any, actor: Any, note: str = "") -> DecisionSystem:
    """Switch a suspended system back on (staff only), ending the stop switch's hold on new adverse outcomes.

    Goes through ``decisions.services.system_go_live`` (which refuses, with every problem, a system that
    no longer meets S1/S2). The incidents of the system not yet resumed get ``resumed_at``; the window of
    the next evaluation starts there. Decisions held while suspended stay held for a person to confirm.
    """
    user = require_controller(actor)
    pk: Any = getattr(system, "pk", system)
    with transaction.atomic():
        locked = DecisionSystem.objects.select_for_update().get(pk=pk)
        if locked.status != DecisionSystem.Status.SUSPENDED:
            raise TransitionNotAllowed(
                f"{locked.name} is {locked.get_status_display().lower()}: only a suspended system resumes.",
                code="system-not-suspended",
            )
        decision_services.system_go_live(system=locked, actor=actor)
        now = clock.now()
        incidents = list(Incident.objects.select_for_update().filter(system=locked, resumed_at__isnull=True))
        for i in incidents:
            i.resumed_at, i.resumed_by = now, user
            fields = ["resumed_at", "resumed_by"]
            if append_note(i, f"System resumed. {note}".strip(), as_actor(actor).label, now):
                fields.append("notes")
            i.save(update_fields=fields)
        held = locked.decisions.filter(status="awaiting_human").count()
        audit.record(
            actor=actor,
            action="system.resumed",
            target=locked,
            data={
                "system": locked.slug,
                "incidents": [i.reference for i in incidents],
                "decisions_still_held": held,
                "note": bool(note.strip()),
            },
        )
        locked.refresh_from_db()
    return locked


def _fresh_reference() -> str:
    for _ in range(10):
        ref = public_reference("INC")
        if not Incident.objects.filter(reference=ref).exists():
            return ref
    raise RuntimeError("could not allocate an incident reference")  # pragma: no cover


def live_rates(
    systems: Iterable[DecisionSystem], *, now: datetime | None = None
) -> dict[int, list[VersionRate]]:
    """For pages: each system's version rates (one query per system)."""
    now = now or clock.now()
    return {s.pk: version_rates(s, now=now) for s in systems}
