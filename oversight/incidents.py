"""Incidents opened by the stop switch (S29): reporting due dates and what staff do with them.

The stop switch (``oversight.stopswitch``) opens an incident; staff then mark it widespread (the report is
then due 2 days after opening instead of 15: AI Act Art. 73(3) and (2)), record that it was reported to the
authority, and close it. Every step is a service that locks the incident, checks the transition in the table
below, saves the changed fields and writes one audit event (no personal data: incidents are about systems).

    open ──report──> reported ──close──> closed
      └────────────close (with the reason it was not reportable)──┘

Only senior reviewers and admins (and the system itself) may act (``require_controller``); auditors and
reviewers read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from core import audit, clock
from core.actors import as_actor
from core.errors import NotFound, PermissionDenied, TransitionNotAllowed, ValidationFailed, field_error
from core.models import User
from decisions.models import DecisionSystem
from oversight.controls_models import Incident

#: AI Act Art. 73(2): a serious incident is reported within 15 days of becoming aware of it; 73(3): within
#: 2 days where it is widespread.
REPORTING_DAYS = 15
REPORTING_DAYS_WIDESPREAD = 2

CONTROLLER_GROUPS = ("senior reviewer", "admin")

S = Incident.Status
#: (from status, step) -> to status
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.OPEN, "mark_widespread"): S.OPEN,
    (S.OPEN, "report"): S.REPORTED,
    (S.OPEN, "close"): S.CLOSED,
    (S.REPORTED, "close"): S.CLOSED,
    (S.OPEN, "note"): S.OPEN,
    (S.REPORTED, "note"): S.REPORTED,
    (S.CLOSED, "note"): S.CLOSED,
}


def next_status(status: str, step: str) -> str:
    try:
        return TRANSITIONS[(status, step)]
    except KeyError:
        raise TransitionNotAllowed(
            f"An incident that is {S(status).label.lower()} cannot take the step '{step}'.",
            code="incident-transition-not-allowed",
        ) from None


def is_controller(user: Any) -> bool:
    """Senior reviewers and admins (and superusers) act on incidents, remedies and suspended systems."""
    return bool(
        isinstance(user, User)
        and user.is_active
        and (user.is_superuser or user.groups.filter(name__in=CONTROLLER_GROUPS).exists())
    )


def require_controller(actor: Any) -> User | None:
    """The acting user (None for the system itself); refuses anyone else (auditors read, never act)."""
    if not isinstance(actor, User) and as_actor(actor).kind == "system":
        return None
    if not is_controller(actor):
        raise PermissionDenied(
            "Only a senior reviewer or an administrator may do this.", code="controller-only"
        )
    return actor if isinstance(actor, User) else None


def reporting_due_for(system: DecisionSystem, opened_at: datetime, *, widespread: bool) -> date:
    """The date the report to the authority is due, in the system's zone (core.clock)."""
    days = REPORTING_DAYS_WIDESPREAD if widespread else REPORTING_DAYS
    return clock.deadline_date(opened_at, days, system.time_zone)


def _lock(incident: Incident | Any) -> Incident:
    pk: Any = getattr(incident, "pk", incident)
    try:
        return Incident.objects.select_for_update(of=("self",)).select_related("system").get(pk=pk)
    except (Incident.DoesNotExist, ValueError, DjangoValidationError):
        raise NotFound("No such incident.") from None


def append_note(incident: Incident, note: str, who: str, now: datetime) -> bool:
    """Add a dated line to the incident's notes. Returns whether there was anything to add."""
    text = (note or "").strip()
    if not text:
        return False
    line = f"[{now:%Y-%m-%d %H:%M} UTC, {who}] {text}"
    incident.notes = f"{incident.notes}\n{line}" if incident.notes else line
    return True


def _who(actor: Any) -> str:
    a = as_actor(actor)
    return a.label or a.id


def _step(
    incident: Incident | Any,
    step: str,
    *,
    actor: Any,
    note: str = "",
    apply: Callable[[Incident, datetime], list[str]] | None = None,
    data: Callable[[Incident], dict[str, Any]] | None = None,
) -> Incident:
    require_controller(actor)
    with transaction.atomic():
        i = _lock(incident)
        before = i.status
        i.status = next_status(before, step)
        now = clock.now()
        fields = {"status"}
        if apply is not None:
            fields |= set(apply(i, now))
        if append_note(i, note, _who(actor), now):
            fields.add("notes")
        i.save(update_fields=sorted(fields))
        audit.record(
            actor=actor,
            action=f"incident.{step if step != 'report' else 'reported'}",
            target=i,
            data={
                "incident": i.reference,
                "system": i.system.slug,
                "from": before,
                "to": i.status,
                "note": bool((note or "").strip()),
            }
            | (data(i) if data is not None else {}),
        )
    return i


def incident_mark_widespread(*, incident: Incident | Any, actor: Any, note: str = "") -> Incident:
    """The incident is widespread: the report is due 2 days after opening (AI Act Art. 73(3))."""
    old: dict[str, str] = {}

    def apply(i: Incident, now: datetime) -> list[str]:
        if i.widespread:
            raise TransitionNotAllowed(
                "The incident is already marked widespread.", code="already-widespread"
            )
        old["reporting_due"] = i.reporting_due.isoformat()
        i.widespread = True
        i.reporting_due = reporting_due_for(i.system, i.opened_at, widespread=True)
        return ["widespread", "reporting_due"]

    return _step(
        incident,
        "mark_widespread",
        actor=actor,
        note=note,
        apply=apply,
        data=lambda i: {"reporting_due": {"old": old["reporting_due"], "new": i.reporting_due.isoformat()}},
    )


def incident_mark_reported(
    *, incident: Incident | Any, actor: Any, report_reference: str = "", note: str = ""
) -> Incident:
    """Record that the incident was reported to the market surveillance authority (AI Act Art. 73)."""
    ref = (report_reference or "").strip()[:200]

    def apply(i: Incident, now: datetime) -> list[str]:
        i.reported_at = now
        i.report_reference = ref
        return ["reported_at", "report_reference"]

    return _step(
        incident,
        "report",
        actor=actor,
        note=note,
        apply=apply,
        data=lambda i: {
            "report_reference": bool(ref),
            "late": clock.is_past(i.reporting_due, i.system.time_zone, at=i.reported_at),
        },
    )


def incident_close(*, incident: Incident | Any, actor: Any, reason: str) -> Incident:
    """Close the incident, saying why (what was fixed, or why it was not reportable)."""
    text = (reason or "").strip()
    if len(text) < 10:
        raise ValidationFailed(
            errors=[field_error("reason", "required", "Say why the incident is closed (what was done).")]
        )

    def apply(i: Incident, now: datetime) -> list[str]:
        i.closed_at = now
        i.close_reason = text
        return ["closed_at", "close_reason"]

    return _step(
        incident,
        "close",
        actor=actor,
        apply=apply,
        data=lambda i: {"was_reported": i.reported_at is not None},
    )


def incident_add_note(*, incident: Incident | Any, actor: Any, note: str) -> Incident:
    if not (note or "").strip():
        raise ValidationFailed(errors=[field_error("note", "required", "Write the note.")])
    return _step(incident, "note", actor=actor, note=note)


def is_overdue(incident: Incident, *, at: datetime | None = None) -> bool:
    """Not reported and the reporting due date has passed in the system's zone."""
    return incident.status == S.OPEN and clock.is_past(
        incident.reporting_due, incident.system.time_zone, at=at
    )
