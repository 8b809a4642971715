"""Every write in ``appeals``: filing and triage, queues and claims, review and outcome, deadlines, data
disputes and explanation requests (S16-S27).

Each transition follows the house pattern: lock the appeal (``select_for_update``), re-read it, check the
step against ``appeals.workflow``, save with ``update_fields``, write the audit event (``appeal.<step>``,
with ``from`` and ``to``), and compose notices and webhooks in the same transaction (the outbox delivers
them after commit). Changes to the decision record (stay, reversal, re-scoring) go through
``decisions.outcomes``.

Choices made here, so reviewers and integrators can rely on them:

- Only adverse decisions that are pending notice, in effect or stayed can be appealed. A decision in the
  person's favour, one waiting for a human, or one already replaced is refused with the reason.
- One open appeal per decision (the service refuses with the open appeal's reference; a partial unique
  index backs it). After an appeal was decided, a new one is refused and names the external routes.
- A late appeal is never refused by the machine: it waits in ``submitted`` for a person to accept it for
  good cause (then the stay applies as for an appeal in time) or refuse it with reasons.
- Four eyes (S24) apply where the system requires them and the outcome would leave an adverse result in
  place: upholding, or modifying to another adverse outcome (stricter than "upholding" alone, so that a
  marginal modification cannot avoid the second reviewer).
- A reviewer may hold several claims; each lapses after ``APPEALS_CLAIM_IDLE_MINUTES`` without activity
  (opening evidence, recording an assessment), except while waiting for the person.
- The institution's clock: due ``review_due_days`` after filing, in the system's zone; paused from an
  information request until the reply (or its deadline); on escalation the person is told a new date
  ``APPEALS_ESCALATION_DAYS`` ahead, and a missed new date escalates again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Model

from appeals import hooks, notices, selectors
from appeals.models import (
    Appeal,
    AppealContact,
    Channel,
    ConflictDeclaration,
    DataDispute,
    Escalation,
    EvidenceFile,
    EvidenceOpened,
    ExplanationRequest,
    InformationRequest,
    Queue,
    QueueMembership,
    Review,
    ReviewerTraining,
)
from appeals.workflow import CLOCK_RUNNING_STATES, OPEN_STATES, Event, State, next_state
from core import audit, clock
from core.actors import SYSTEM, as_actor
from core.errors import (
    ApplicationError,
    Conflict,
    NotFound,
    PermissionDenied,
    TransitionNotAllowed,
    ValidationFailed,
    field_error,
)
from core.ids import public_reference, uuid7
from core.models import User
from decisions import outcomes
from decisions.models import Decision, DecisionSystem, Outcome, Subject
from decisions.notices import appeal_deadline

log = logging.getLogger(__name__)

A = Appeal
MIN_RATIONALE = 20
DISPUTE_DAYS = 30  # S19: the institution has 30 days to investigate ...
DISPUTE_EXTENSION_DAYS = 15  # ... 15 more when the person adds information within them
EXPLANATION_MONTHS = 1  # S20: one month ...
EXPLANATION_EXTENSION_MONTHS = 2  # ... extendable by two
PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
_MAGIC = ((b"%PDF-", PDF, ".pdf"), (b"\xff\xd8\xff", JPEG, ".jpg"), (b"\x89PNG\r\n\x1a\n", PNG, ".png"))


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def claim_idle() -> timedelta:
    return timedelta(minutes=_setting("APPEALS_CLAIM_IDLE_MINUTES", 60))


def escalation_days() -> int:
    return _setting("APPEALS_ESCALATION_DAYS", 10)


def information_reply_days() -> int:
    return _setting("APPEALS_INFORMATION_REPLY_DAYS", 14)


def evidence_max_bytes() -> int:
    return _setting("APPEALS_EVIDENCE_MAX_BYTES", 10 * 1024 * 1024)


def evidence_max_files() -> int:
    return _setting("APPEALS_EVIDENCE_MAX_FILES", 10)


# ---------------------------------------------------------------------------------------------- errors


class DecisionNotAppealable(Conflict):
    code = "decision-not-appealable"
    title = "This decision cannot be appealed"


class AppealAlreadyOpen(Conflict):
    code = "appeal-already-open"
    title = "An appeal on this decision is already open"


class AppealAlreadyDecided(Conflict):
    code = "appeal-already-decided"
    title = "An appeal on this decision was already decided"


class EvidenceRejected(ValidationFailed):
    code = "evidence-rejected"
    title = "A file could not be accepted"


class NoAuthority(PermissionDenied):
    code = "reviewer-without-authority"
    title = "Only a trained reviewer with authority may do this"


class NotIndependent(PermissionDenied):
    code = "reviewer-not-independent"
    title = "This reviewer is not independent of the decision"


class NotClaimant(PermissionDenied):
    code = "not-claimant"
    title = "Only the reviewer who holds the case may do this"


class EvidenceNotOpened(Conflict):
    code = "evidence-not-opened"
    title = "Open the person's statement and every evidence file before deciding"


class BlindAssessmentRequired(Conflict):
    code = "blind-assessment-required"
    title = "Record your own assessment before deciding"


class DisputeAlreadyOpen(Conflict):
    code = "dispute-already-open"
    title = "This value is already being checked"


# ---------------------------------------------------------------------------------------------- helpers


def _refuse(errors: list[dict[str, Any]], cls: type[ApplicationError] = ValidationFailed) -> None:
    if errors:
        raise cls("; ".join(e["message"] for e in errors[:3]), errors=errors)


def _text(value: Any) -> str:
    return str(value or "").strip()


def _fresh_reference(prefix: str, model: type[Model]) -> str:
    for _ in range(10):
        ref = public_reference(prefix)
        if not model._default_manager.filter(reference=ref).exists():
            return ref
    raise Conflict("Could not allocate a reference; try again.", code="reference-collision")


def _tz(appeal_or_decision: Any) -> str:
    d = getattr(appeal_or_decision, "decision", appeal_or_decision)
    return str(d.system.time_zone)


def _lock(appeal: Appeal | Any) -> Appeal:
    pk: Any = getattr(appeal, "pk", appeal)
    try:
        return (
            Appeal.objects.select_for_update(of=("self",))
            .select_related("decision", "decision__system", "decision__subject", "decision__outcome", "queue")
            .get(pk=pk)
        )
    except Appeal.DoesNotExist:
        raise NotFound("No such appeal.") from None


_ACTIONS = {
    Event.ACCEPT: "appeal.accepted",
    Event.REFUSE: "appeal.refused",
    Event.CLAIM: "appeal.claimed",
    Event.ASSIGN: "appeal.assigned",
    Event.RELEASE: "appeal.released",
    Event.LAPSE: "appeal.claim_lapsed",
    Event.REQUEST_INFORMATION: "appeal.information_requested",
    Event.INFORMATION_RECEIVED: "appeal.information_received",
    Event.INFORMATION_TIMEOUT: "appeal.information_timed_out",
    Event.DECIDE: "appeal.decided",
    Event.DECIDE_FOR_SECOND_REVIEW: "appeal.sent_for_second_review",
    Event.CONFIRM: "appeal.second_review_confirmed",
    Event.DISAGREE: "appeal.second_review_disagreed",
    Event.CLOSE: "appeal.closed",
    Event.MOOT: "appeal.moot",
    Event.WITHDRAW: "appeal.withdrawn",
}


def _subject_data(a: Appeal) -> dict[str, Any]:
    return {
        "appeal": a.reference,
        "decision": str(a.decision_id),
        "system": a.decision.system.slug,
        "subject": a.decision.subject.pseudonym,
    }


def _step(
    a: Appeal,
    event: Event,
    *,
    actor: Any,
    fields: Iterable[str] = (),
    data: dict[str, Any] | None = None,
) -> Appeal:
    """Apply ``event`` to the locked appeal: check the table, set the status, save, audit."""
    before = a.status
    a.status = next_state(before, event)
    a.save(update_fields=sorted({"status", *fields}))
    audit.record(
        actor=actor,
        action=_ACTIONS[event],
        target=a,
        data=_subject_data(a) | {"from": before, "to": a.status, "event": event.value} | (data or {}),
    )
    return a


def _claim_fields(a: Appeal, reviewer: User | None, now: datetime, *, waiting: bool = False) -> list[str]:
    a.claimed_by = reviewer
    a.claimed_at = now if reviewer else None
    a.claim_expires_at = now + claim_idle() if reviewer and not waiting else None
    return ["claimed_by", "claimed_at", "claim_expires_at"]


def _user(actor: Any) -> User | None:
    return actor if isinstance(actor, User) else None


def _require_supervisor(actor: Any) -> None:
    """Staff steps (reassigning, refusing a late appeal...) need a senior reviewer or an admin; the system
    itself (periodic tasks) may too."""
    if as_actor(actor).kind == "system" or selectors.is_supervisor(actor):
        return
    raise PermissionDenied("Only a senior reviewer or an administrator may do this.", code="supervisor-only")


def _require_staff(actor: Any) -> User:
    user = _user(actor)
    if user is None or not (selectors.has_reviewer_authority(user) or selectors.is_supervisor(user)):
        raise PermissionDenied("Only reviewers and their supervisors may do this.", code="staff-only")
    return user


def _require_reviewer(reviewer: Any, system: DecisionSystem | None = None) -> User:
    """S2, S21: authority to change the outcome (group reviewer or senior reviewer), and recorded training
    where the system's impact level needs it."""
    if not selectors.has_reviewer_authority(reviewer):
        raise NoAuthority("Only members of the reviewer or senior reviewer groups may review appeals.")
    if system is not None and not selectors.has_training_for(reviewer, system):
        raise NoAuthority(
            f"{system.name} is at impact level {system.get_impact_level_display()}: "
            "reviewers need recorded, current training (S2).",
            code="reviewer-training-missing",
        )
    return reviewer


def _require_independent(a: Appeal, reviewer: User) -> None:
    problems = selectors.independence_problems(a, reviewer)
    if problems:
        raise NotIndependent(
            f"{reviewer.get_username()} may not review {a.reference}: " + "; ".join(problems) + " (S22).",
            extra={"problems": problems},
        )


def _require_claimant(a: Appeal, reviewer: User) -> None:
    if a.claimed_by_id != reviewer.pk:
        raise NotClaimant(f"{a.reference} is not claimed by {reviewer.get_username()}.")


def _webhook(a: Appeal, event_type: str, extra: dict[str, Any], actor: Any) -> None:
    """Tell the integrator who recorded the decision (signed webhook, after commit)."""
    d = a.decision
    if d.recorded_by_id is None:
        return
    from notifications.webhooks import webhook_emit

    webhook_emit(
        client=d.recorded_by,
        event_type=event_type,
        payload={
            "type": event_type,
            "appeal": {"reference": a.reference, "status": a.status, "outcome": a.outcome or None},
            "decision": {
                "id": str(d.pk),
                "external_id": d.external_id,
                "system": d.system.slug,
                "public_reference": d.public_reference,
            },
            **extra,
        },
        actor=actor,
    )


# ---------------------------------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class Upload:
    """A file as received: its name as the person gave it, and its bytes."""

    name: str
    content: bytes


def _read(item: Any, limit: int) -> Upload:
    """An Upload from an Upload, a (name, bytes) pair or a Django UploadedFile, reading at most ``limit``+1
    bytes (so an oversized file is refused without being read whole)."""
    if isinstance(item, Upload):
        return Upload(item.name, item.content[: limit + 1])
    if isinstance(item, tuple) and len(item) == 2:
        return Upload(str(item[0]), bytes(item[1])[: limit + 1])
    name = str(getattr(item, "name", "") or "")
    chunks, size = [], 0
    if hasattr(item, "chunks"):
        for chunk in item.chunks():
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
    else:
        chunks.append(item.read(limit + 1))
    return Upload(name, b"".join(chunks)[: limit + 1])


def _clean_name(name: str) -> str:
    name = os.path.basename(name.replace("\\", "/"))
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return (name or "file")[:200]


def sniff(content: bytes) -> tuple[str, str] | None:
    """The content type and extension from the file's first bytes (never from its name): PDF, JPEG, PNG."""
    for magic, content_type, ext in _MAGIC:
        if content.startswith(magic):
            return content_type, ext
    return None


def _check_uploads(items: Sequence[Any], already: int) -> list[tuple[Upload, str, str]]:
    limit, most = evidence_max_bytes(), evidence_max_files()
    errors, checked = [], []
    if already + len(items) > most:
        errors.append(
            field_error(
                "evidence", "too-many-files", f"At most {most} files per case ({already} already given)."
            )
        )
    for i, item in enumerate(items):
        upload = _read(item, limit)
        kind = sniff(upload.content)
        if not upload.content:
            errors.append(field_error(f"evidence.{i}", "empty-file", "This file is empty."))
        elif len(upload.content) > limit:
            errors.append(
                field_error(
                    f"evidence.{i}", "file-too-large", f"A file may be at most {limit // (1024 * 1024)} MB."
                )
            )
        elif kind is None:
            errors.append(
                field_error(f"evidence.{i}", "unsupported-type", "Send a PDF, a JPEG or a PNG file.")
            )
        else:
            checked.append((upload, *kind))
    _refuse(errors, EvidenceRejected)
    return checked


def _store(
    owner: Appeal | DataDispute, checked: list[tuple[Upload, str, str]], now: datetime
) -> list[EvidenceFile]:
    """Write the files under MEDIA_ROOT (mode 0600, never overwriting) and their rows. Files already written
    are removed again if anything fails."""
    root = Path(settings.MEDIA_ROOT)
    folder = Path("evidence") / str(owner.pk)
    (root / folder).mkdir(parents=True, exist_ok=True, mode=0o700)
    written: list[Path] = []
    rows = []
    try:
        for i, (upload, content_type, ext) in enumerate(checked):
            rel = folder / f"{uuid7()}{ext}"
            fd = os.open(root / rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(upload.content)
            written.append(root / rel)
            rows.append(
                EvidenceFile(
                    appeal=owner if isinstance(owner, Appeal) else None,
                    dispute=owner if isinstance(owner, DataDispute) else None,
                    original_name=_clean_name(upload.name),
                    content_type=content_type,
                    size=len(upload.content),
                    sha256=hashlib.sha256(upload.content).hexdigest(),
                    path=str(rel),
                    added_at=now + timedelta(microseconds=i),  # files keep the order given
                )
            )
        EvidenceFile.objects.bulk_create(rows)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return rows


def _evidence_data(rows: list[EvidenceFile]) -> list[dict[str, Any]]:
    return [
        {"id": str(f.pk), "content_type": f.content_type, "size": f.size, "sha256": f.sha256} for f in rows
    ]


def evidence_add(*, appeal: Appeal | Any, files: Sequence[Any], actor: Any) -> list[EvidenceFile]:
    """Add evidence to an open appeal (at most ``APPEALS_EVIDENCE_MAX_FILES`` per appeal, each a PDF, JPEG or
    PNG of at most ``APPEALS_EVIDENCE_MAX_BYTES``, sniffed from its bytes)."""
    with transaction.atomic():
        a = _lock(appeal)
        if a.status not in OPEN_STATES:
            raise TransitionNotAllowed(
                f"{a.reference} is {a.get_status_display().lower()}: it takes no more files."
            )
        checked = _check_uploads(files, a.evidence.count())
        rows = _store(a, checked, clock.now())
        audit.record(
            actor=actor,
            action="appeal.evidence_added",
            target=a,
            data=_subject_data(a) | {"evidence": _evidence_data(rows)},
        )
    return rows


def evidence_open(
    *, appeal: Appeal | Any, reviewer: User, evidence: EvidenceFile | None = None
) -> EvidenceOpened:
    """Record that ``reviewer`` opened the person's statement (``evidence`` None) or one file (S21).

    The claimant, members of the appeal's queue and supervisors may open it; the claimant's claim is kept
    alive by the activity."""
    with transaction.atomic():
        a = _lock(appeal)
        member = (
            a.queue_id is not None
            and QueueMembership.objects.filter(queue_id=a.queue_id, user=reviewer).exists()
        )
        if a.claimed_by_id != reviewer.pk and not member and not selectors.is_supervisor(reviewer):
            raise PermissionDenied("Only reviewers of this appeal's queue may open its evidence (S33).")
        if evidence is not None and evidence.appeal_id != a.pk:
            raise NotFound("No such evidence on this appeal.")
        now = clock.now()
        opened = EvidenceOpened.objects.create(appeal=a, reviewer=reviewer, evidence=evidence, opened_at=now)
        fields = []
        if a.claimed_by_id == reviewer.pk and a.claim_expires_at is not None:
            a.claim_expires_at = now + claim_idle()
            fields.append("claim_expires_at")
            a.save(update_fields=fields)
        audit.record(
            actor=reviewer,
            action="appeal.evidence_opened",
            target=a,
            data=_subject_data(a) | {"opened": str(evidence.pk) if evidence else "statement"},
        )
    return opened


# ---------------------------------------------------------------------------------------------- queues


def queue_for_system(system: DecisionSystem) -> Queue:
    """The system's main queue (team ''), created on first use."""
    found = Queue.objects.filter(system=system, team="").first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Queue.objects.create(
                system=system, team="", name=f"{system.name}: appeals", created_at=clock.now()
            )
    except IntegrityError:
        return Queue.objects.get(system=system, team="")


def queue_create(
    *, system: DecisionSystem, name: str, actor: Any, team: str = "", ordering: str = Queue.Ordering.DOCKET
) -> Queue:
    _require_supervisor(actor)
    errors = []
    if not _text(name):
        errors.append(field_error("name", "required", "Name the queue."))
    if ordering not in Queue.Ordering.values:
        errors.append(field_error("ordering", "invalid", f"One of: {', '.join(Queue.Ordering.values)}."))
    _refuse(errors)
    with transaction.atomic():
        if Queue.objects.filter(system=system, team=team.strip()).exists():
            raise Conflict("This system already has a queue for that team.", code="queue-exists")
        q = Queue.objects.create(
            system=system, team=team.strip(), name=name.strip(), ordering=ordering, created_at=clock.now()
        )
        audit.record(
            actor=actor,
            action="queue.created",
            target=q,
            data={"system": system.slug, "team": q.team, "ordering": ordering},
        )
    return q


def queue_set_ordering(*, queue: Queue, ordering: str, actor: Any) -> Queue:
    """Change a queue's ordering rule (audited with the old and new rule)."""
    _require_supervisor(actor)
    if ordering not in Queue.Ordering.values:
        raise ValidationFailed(
            errors=[field_error("ordering", "invalid", f"One of: {', '.join(Queue.Ordering.values)}.")]
        )
    with transaction.atomic():
        q = Queue.objects.select_for_update().get(pk=queue.pk)
        if q.ordering == ordering:
            return q
        old, q.ordering = q.ordering, ordering
        q.save(update_fields=["ordering"])
        audit.record(
            actor=actor,
            action="queue.ordering_changed",
            target=q,
            data={"system_id": q.system_id, "team": q.team, "old": old, "new": ordering},
        )
    return q


def queue_member_add(
    *, queue: Queue, user: User, actor: Any, role: str = QueueMembership.Role.MEMBER
) -> QueueMembership:
    _require_supervisor(actor)
    if role not in QueueMembership.Role.values:
        raise ValidationFailed(errors=[field_error("role", "invalid", "member or supervisor")])
    with transaction.atomic():
        m, created = QueueMembership.objects.get_or_create(
            queue=queue, user=user, defaults={"role": role, "added_at": clock.now()}
        )
        if not created and m.role == role:
            return m
        if not created:
            m.role = role
            m.save(update_fields=["role"])
        audit.record(
            actor=actor, action="queue.member_added", target=queue, data={"user": user.pk, "role": role}
        )
    return m


def queue_member_remove(*, queue: Queue, user: User, actor: Any) -> None:
    _require_supervisor(actor)
    with transaction.atomic():
        deleted, _ = QueueMembership.objects.filter(queue=queue, user=user).delete()
        if deleted:
            audit.record(actor=actor, action="queue.member_removed", target=queue, data={"user": user.pk})


def reviewer_training_record(
    *,
    user: User,
    course: str,
    completed_on: date,
    actor: Any,
    expires_on: date | None = None,
    system: DecisionSystem | None = None,
) -> ReviewerTraining:
    """S2: record a reviewer's training (needed to review appeals at impact levels III-IV)."""
    _require_supervisor(actor)
    errors = []
    if not _text(course):
        errors.append(field_error("course", "required", "Name the course."))
    if expires_on is not None and expires_on <= completed_on:
        errors.append(field_error("expires_on", "invalid", "Training expires after it was completed."))
    _refuse(errors)
    with transaction.atomic():
        t = ReviewerTraining.objects.create(
            user=user,
            course=course.strip(),
            completed_on=completed_on,
            expires_on=expires_on,
            system=system,
            recorded_at=clock.now(),
        )
        audit.record(
            actor=actor,
            action="reviewer.training_recorded",
            target=t,
            data={
                "user": user.pk,
                "system": system.slug if system else None,
                "completed_on": completed_on.isoformat(),
                "expires_on": expires_on.isoformat() if expires_on else None,
            },
        )
    return t


def conflict_declare(
    *,
    reviewer: User,
    reason: str,
    decision: Decision | None = None,
    subject: Subject | None = None,
) -> ConflictDeclaration:
    """S22: a reviewer declares a conflict with a decision or with everything about one person. A claim
    they hold on an affected appeal is released at once."""
    errors = []
    if (decision is None) == (subject is None):
        errors.append(field_error("decision", "required", "Name either a decision or a person."))
    if not _text(reason):
        errors.append(field_error("reason", "required", "Say why (kept for the record, S22)."))
    _refuse(errors)
    with transaction.atomic():
        now = clock.now()
        c = ConflictDeclaration.objects.create(
            reviewer=reviewer, decision=decision, subject=subject, reason=reason.strip(), declared_at=now
        )
        audit.record(
            actor=reviewer,
            action="reviewer.conflict_declared",
            target=c,
            data={
                "decision": str(decision.pk) if decision else None,
                "subject": subject.pseudonym if subject else None,
            },
        )
        held = Appeal.objects.filter(
            claimed_by=reviewer, status__in=[State.IN_REVIEW, State.AWAITING_SECOND_REVIEW]
        )
        held = held.filter(decision=decision) if decision else held.filter(decision__subject=subject)
        for pk in held.values_list("pk", flat=True):
            a = _lock(pk)
            if a.claimed_by_id == reviewer.pk and a.status in (State.IN_REVIEW, State.AWAITING_SECOND_REVIEW):
                _step(
                    a,
                    Event.RELEASE,
                    actor=reviewer,
                    fields=_claim_fields(a, None, now),
                    data={"reviewer": reviewer.pk, "why": "conflict declared"},
                )
    return c


# ---------------------------------------------------------------------------------------------- filing


def _appealable(d: Decision) -> None:
    S = Decision.Status
    if d.status in (S.SUPERSEDED, S.REVERSED):
        newer = Decision.objects.filter(supersedes=d).values_list("public_reference", flat=True).first()
        raise DecisionNotAppealable(
            f"The decision {d.public_reference} was replaced"
            + (f" by {newer}: appeal that decision instead." if newer else "."),
            code="decision-replaced",
        )
    if d.status == S.AWAITING_HUMAN:
        raise DecisionNotAppealable(
            f"The decision {d.public_reference} is not final yet: a person must still confirm it.",
            code="decision-not-final",
        )
    if not d.adverse:
        raise DecisionNotAppealable(
            f"The decision {d.public_reference} is in your favour, so there is nothing to appeal. "
            "You can still ask for an explanation or tell us if any information is wrong.",
            code="decision-not-adverse",
        )


def _routes_text(system: DecisionSystem) -> str:
    names = [
        str(r.get("name")) for r in system.external_routes or [] if isinstance(r, dict) and r.get("name")
    ]
    return ", ".join(names)


def _no_second_appeal(d: Decision) -> None:
    open_ = Appeal.objects.filter(decision=d, status__in=[s.value for s in OPEN_STATES]).first()
    if open_ is not None:
        raise AppealAlreadyOpen(
            f"An appeal on {d.public_reference} is already open ({open_.reference}). "
            "Add what you want to say or any files to that appeal instead.",
            extra={"appeal": open_.reference},
        )
    decided = Appeal.objects.filter(decision=d, status__in=[State.DECIDED, State.CLOSED]).first()
    if decided is not None:
        routes = _routes_text(d.system)
        raise AppealAlreadyDecided(
            f"Your appeal {decided.reference} on {d.public_reference} was already decided. "
            + (
                f"If you still disagree you can go to: {routes}."
                if routes
                else "Contact us to ask what you can do."
            ),
            extra={"appeal": decided.reference},
        )


STAY_REFUSED_POLICY = {
    "en": "Under the rules of {system}, an appeal does not put the decision on hold.",
    "es": "Según las normas de {system}, una apelación no suspende la decisión.",
}
STAY_REFUSED_LATE = {
    "en": "You appealed after the last day, so the decision stays in place for now. If we accept your "
    "reasons for being late, we will put it on hold.",
    "es": "Apeló después del último día, así que por ahora la decisión se mantiene. Si aceptamos sus razones "
    "para apelar tarde, la suspenderemos.",
}


def _apply_stay(a: Appeal, actor: Any, now: datetime, *, in_time: bool) -> list[str]:
    """S18: suspend the effect where the system's policy says so; otherwise record why not (reasoned, and
    told in the notice). ``in_time``: filed in the window, or accepted late for good cause."""
    d = a.decision
    lang = notices.language_for(a.language)
    if d.status not in outcomes.STAYABLE_STATUSES or not d.adverse:
        a.stay, a.stay_reason = A.Stay.NOT_APPLICABLE, ""
    elif not in_time:
        a.stay, a.stay_reason = A.Stay.REFUSED, STAY_REFUSED_LATE[lang]
    elif not d.system.stay_on_appeal:
        a.stay, a.stay_reason = A.Stay.REFUSED, STAY_REFUSED_POLICY[lang].format(system=d.system.name)
    else:
        a.stay_previous_status = outcomes.decision_stay(decision=d, actor=actor, reference=a.reference)
        a.stay, a.stay_reason, a.stay_applied_at = A.Stay.APPLIED, "", now
        d.status = Decision.Status.STAYED
    audit.record(
        actor=actor,
        action=f"appeal.stay_{a.stay}",
        target=a,
        data=_subject_data(a) | {"stay": a.stay, "in_time": in_time, "policy": bool(d.system.stay_on_appeal)},
    )
    return ["stay", "stay_reason", "stay_previous_status", "stay_applied_at"]


def _lift_stay(a: Appeal, actor: Any, now: datetime, why: str) -> list[str]:
    if a.stay != A.Stay.APPLIED:
        return []
    if a.decision.status == Decision.Status.STAYED:
        outcomes.decision_stay_lift(
            decision=a.decision,
            previous_status=a.stay_previous_status or "effective",
            actor=actor,
            reference=a.reference,
            reason=why,
        )
    a.stay, a.stay_lifted_at = A.Stay.LIFTED, now
    return ["stay", "stay_lifted_at"]


def appeal_file(
    *,
    decision: Decision | Any,
    statement: str,
    actor: Any,
    channel: str = Channel.PORTAL,
    filed_by: str = Appeal.FiledBy.PERSON,
    representative: dict[str, str] | None = None,
    requested_remedy: str = "",
    oral_hearing_requested: bool = False,
    accessibility_needs: str = "",
    contact_preference: str = Appeal.ContactPreference.EMAIL,
    phone: str = "",
    postal_address: str = "",
    good_cause: str = "",
    evidence: Sequence[Any] = (),
    language: str = "",
    filed_at: datetime | None = None,
) -> Appeal:
    """File an appeal (S16) and triage it (S17, S18).

    In time: the appeal is queued and, where the system's policy says so, the decision is stayed. Late: it
    waits for a person (``appeal_triage_late``) with the person's ``good_cause``; never refused by the
    machine. Either way the person gets an "appeal received" notice saying what happens next and whether
    the decision is on hold, and why not. ``filed_at`` is for appeals received by post or phone (the day
    it arrived); it may not be in the future.
    """
    now = clock.now()
    filed = filed_at or now
    rep = {k: _text(v) for k, v in (representative or {}).items()}
    errors = []
    if not _text(statement):
        errors.append(field_error("statement", "required", "Tell us why you think the decision is wrong."))
    if channel not in Channel.values:
        errors.append(field_error("channel", "invalid", f"One of: {', '.join(Channel.values)}."))
    if filed_by not in A.FiledBy.values:
        errors.append(field_error("filed_by", "invalid", "person or representative"))
    if contact_preference not in A.ContactPreference.values:
        errors.append(
            field_error("contact_preference", "invalid", f"One of: {', '.join(A.ContactPreference.values)}.")
        )
    if filed_by == A.FiledBy.REPRESENTATIVE:
        if not rep.get("name"):
            errors.append(field_error("representative.name", "required", "Give the representative's name."))
        if not rep.get("authority"):
            errors.append(
                field_error(
                    "representative.authority",
                    "required",
                    "Say how you are authorised to act for the person (S16).",
                )
            )
    if filed.tzinfo is None or filed > now + timedelta(minutes=2):
        errors.append(field_error("filed_at", "invalid", "The day the appeal arrived, not in the future."))
    if len(_text(statement)) > 20000:
        errors.append(
            field_error("statement", "too-long", "At most 20,000 characters; add the rest as a file.")
        )
    _refuse(errors)
    checked = _check_uploads(evidence, 0)
    with transaction.atomic():
        try:
            d = (
                Decision.objects.select_for_update(of=("self",))
                .select_related("system", "subject", "outcome", "recorded_by")
                .get(pk=getattr(decision, "pk", decision))
            )
        except Decision.DoesNotExist:
            raise NotFound("No such decision.") from None
        _appealable(d)
        _no_second_appeal(d)
        system = d.system
        if oral_hearing_requested and not system.oral_hearing_allowed:
            raise ValidationFailed(
                errors=[
                    field_error(
                        "oral_hearing_requested",
                        "not-offered",
                        f"{system.name} does not hold oral hearings; write what you want to say.",
                    )
                ]
            )
        tz = system.time_zone
        deadline = appeal_deadline(d)
        due = clock.deadline_date(filed, system.review_due_days, tz)
        a = Appeal(
            reference=_fresh_reference("APL", Appeal),
            decision=d,
            queue=queue_for_system(system),
            status=State.SUBMITTED,
            filed_by=filed_by,
            channel=channel,
            statement=_text(statement),
            requested_remedy=_text(requested_remedy),
            oral_hearing_requested=bool(oral_hearing_requested),
            contact_preference=contact_preference,
            language=notices.language_for(language or d.subject.language),
            filed_at=filed,
            late=clock.is_past(deadline, tz, at=filed),
            appeal_deadline=deadline,
            good_cause=_text(good_cause),
            original_due_date=due,
            due_date=due,
            created_at=now,
        )
        try:
            with transaction.atomic():
                a.save(force_insert=True)
        except IntegrityError:  # a concurrent filing on the same decision won the unique index
            _no_second_appeal(d)
            raise
        if rep or _text(accessibility_needs) or _text(phone) or _text(postal_address):
            AppealContact.objects.create(
                appeal=a,
                representative_name=rep.get("name", "")[:200],
                representative_email=rep.get("email", "")[:254],
                representative_phone=rep.get("phone", "")[:50],
                authority=rep.get("authority", ""),
                accessibility_needs=_text(accessibility_needs),
                phone=_text(phone)[:50],
                postal_address=_text(postal_address),
            )
        rows = _store(a, checked, now) if checked else []
        audit.record(
            actor=actor,
            action="appeal.filed",
            target=a,
            data=_subject_data(a)
            | {
                "to": a.status,
                "channel": channel,
                "filed_by": filed_by,
                "late": a.late,
                "appeal_deadline": deadline.isoformat(),
                "due_date": due.isoformat(),
                "oral_hearing_requested": a.oral_hearing_requested,
                "evidence": _evidence_data(rows),
                "accessibility_needs": bool(_text(accessibility_needs)),
            },
        )
        fields = _apply_stay(a, actor, now, in_time=not a.late)
        if a.late:
            a.save(update_fields=fields)  # waits in "submitted" for a person (S17)
        else:
            _step(a, Event.ACCEPT, actor=actor, fields=fields, data={"why": "in time"})
        notices.compose_for(
            a,
            "appeal_received",
            notices.appeal_received_elements(a, a.language),
            dedupe="received",
            actor=actor,
        )
        _webhook(a, "appeal.filed", {"late": a.late, "stay": a.stay}, actor)
    return a


def appeal_triage_late(*, appeal: Appeal | Any, accept: bool, reasons: str, actor: Any) -> Appeal:
    """A person decides a late appeal (S17): accept it for good cause (queued; the stay applies as for an
    appeal in time) or refuse it as inadmissible. Reasons are required either way and are sent to the
    person; a refusal names the external routes."""
    user = _require_staff(actor)
    if not _text(reasons):
        raise ValidationFailed(
            errors=[field_error("reasons", "required", "Give the reasons; the person will read them.")]
        )
    with transaction.atomic():
        a = _lock(appeal)
        if not a.late:
            raise TransitionNotAllowed(
                f"{a.reference} was filed in time: it needs no triage.", code="not-late"
            )
        now = clock.now()
        a.triage_reasons, a.triaged_by, a.triaged_at = _text(reasons), user, now
        fields = ["triage_reasons", "triaged_by", "triaged_at"]
        if accept:
            next_state(a.status, Event.ACCEPT)
            # Accepted for good cause: treated like an appeal in time, so the stay applies per policy.
            fields += _apply_stay(a, actor, now, in_time=True)
            _step(
                a, Event.ACCEPT, actor=actor, fields=fields, data={"why": "good cause", "reviewer": user.pk}
            )
            notices.compose_for(
                a,
                "appeal_accepted",
                notices.appeal_accepted_elements(a, a.language),
                dedupe="accepted",
                actor=actor,
            )
        else:
            _step(
                a,
                Event.REFUSE,
                actor=actor,
                fields=fields,
                data={"why": "late without good cause", "reviewer": user.pk},
            )
            notices.compose_for(
                a,
                "appeal_refused",
                notices.appeal_refused_elements(a, a.language),
                dedupe="refused",
                actor=actor,
            )
            _webhook(a, "appeal.refused", {}, actor)
    return a


def appeal_withdraw(*, appeal: Appeal | Any, actor: Any, reason: str = "") -> Appeal:
    """The person withdraws their appeal. The stay ends and the decision applies again."""
    with transaction.atomic():
        a = _lock(appeal)
        if a.status == State.WITHDRAWN:
            return a
        next_state(a.status, Event.WITHDRAW)
        now = clock.now()
        a.withdrawn_at, a.withdrawal_reason = now, _text(reason)
        fields = [
            "withdrawn_at",
            "withdrawal_reason",
            *_claim_fields(a, None, now),
            *_lift_stay(a, actor, now, "appeal withdrawn"),
        ]
        if a.clock_paused_at is not None:
            fields += _resume_clock(a, now)
        _step(a, Event.WITHDRAW, actor=actor, fields=fields)
        _webhook(a, "appeal.withdrawn", {}, actor)
    return a


def appeal_moot(*, appeal: Appeal | Any, actor: Any, reason: str, corrected: bool = False) -> Appeal:
    """Close an open appeal whose decision was replaced meanwhile (by a data correction, ``corrected``, or
    by the integrator). The person is told why and which decision replaced it, which they may appeal."""
    with transaction.atomic():
        a = _lock(appeal)
        next_state(a.status, Event.MOOT)
        now = clock.now()
        a.closed_at, a.close_reason = now, _text(reason)
        fields = ["closed_at", "close_reason", *_claim_fields(a, None, now)]
        if a.stay == A.Stay.APPLIED:
            a.stay, a.stay_lifted_at = A.Stay.LIFTED, now
            fields += ["stay", "stay_lifted_at"]
        if a.clock_paused_at is not None:
            fields += _resume_clock(a, now)
        _step(a, Event.MOOT, actor=actor, fields=fields, data={"corrected": corrected})
        newer = (
            Decision.objects.filter(supersedes=a.decision_id)
            .values_list("public_reference", flat=True)
            .first()
        )
        elements = notices.appeal_closed_elements(
            a, corrected=corrected, new_reference=newer or "", lang=a.language
        )
        notices.compose_for(a, "appeal_closed", elements, dedupe="moot", actor=actor)
        _webhook(a, "appeal.closed", {"reason": "decision replaced"}, actor)
    return a


def appeals_close_replaced(*, actor: Any = SYSTEM) -> int:
    """Open appeals whose decision was replaced by other means (the integrator superseded it through the API)
    become moot: there is nothing left to decide on. Returns how many were closed. Periodic, because
    ``decisions`` (a lower floor) does not tell ``appeals`` when it supersedes a decision."""
    replaced = Appeal.objects.filter(
        status__in=[s.value for s in OPEN_STATES],
        decision__status__in=[Decision.Status.SUPERSEDED, Decision.Status.REVERSED],
    ).values_list("pk", "decision__public_reference")
    count = 0
    for pk, reference in list(replaced):
        try:
            appeal_moot(
                appeal=pk, actor=actor, reason=f"The decision {reference} was replaced by a newer decision."
            )
            count += 1
        except TransitionNotAllowed:  # changed meanwhile (withdrawn, say)
            continue
    return count


def appeal_close(*, appeal: Appeal | Any, actor: Any, note: str = "") -> Appeal:
    """Close a decided appeal once the remedy is carried out (S27)."""
    _require_supervisor(actor)
    with transaction.atomic():
        a = _lock(appeal)
        if a.status == State.CLOSED:
            return a
        next_state(a.status, Event.CLOSE)
        now = clock.now()
        a.closed_at, a.close_reason = now, _text(note)
        fields = ["closed_at", "close_reason"]
        if a.remedy and a.remedy_completed_at is None:
            a.remedy_completed_at = now
            fields.append("remedy_completed_at")
        _step(a, Event.CLOSE, actor=actor, fields=fields, data={"remedy": a.remedy})
    return a


# ---------------------------------------------------------------------------------------------- claims


def _start_review(a: Appeal, reviewer: User, stage: str, now: datetime) -> None:
    Review.objects.get_or_create(appeal=a, reviewer=reviewer, stage=stage, defaults={"started_at": now})


def _claim_candidates(reviewer: User, queue: Queue | None, status: str) -> Any:
    return selectors.claimable_appeals(reviewer, queue=queue, status=status).order_by(
        *selectors.claim_ordering(reviewer, queue)
    )


def _claim(reviewer: User, queue: Queue | None, status: str, stage: str) -> Appeal | None:
    """Claim one appeal atomically. On PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` in queue order, so
    concurrent reviewers take different rows without waiting. Elsewhere: a conditional UPDATE that only
    succeeds while the row is still unclaimed in ``status``."""
    _require_reviewer(reviewer)
    skip_locked = connection.features.has_select_for_update_skip_locked
    for _attempt in range(5):
        with transaction.atomic():
            now = clock.now()
            candidates = _claim_candidates(reviewer, queue, status)
            if skip_locked:
                a = candidates.select_for_update(skip_locked=True, of=("self",)).first()
                if a is None:
                    if not candidates.exists():
                        return None
                    continue  # every candidate is being claimed by someone else right now: look again
            else:
                a = None
                for pk in candidates.values_list("pk", flat=True)[:20]:
                    won = Appeal.objects.filter(pk=pk, status=status, claimed_by__isnull=True).update(
                        claimed_by=reviewer, claimed_at=now, claim_expires_at=now + claim_idle()
                    )
                    if won:
                        a = Appeal.objects.select_related("decision__system", "decision__subject").get(pk=pk)
                        break
                if a is None:
                    if not candidates.exists():
                        return None
                    continue
            a = _lock(a)
            _step(
                a,
                Event.CLAIM,
                actor=reviewer,
                fields=_claim_fields(a, reviewer, now),
                data={"reviewer": reviewer.pk, "queue": a.queue_id, "stage": stage},
            )
            _start_review(a, reviewer, stage, now)
            return a
    return None


def review_claim_next(*, reviewer: User, queue: Queue | None = None) -> Appeal | None:
    """ "Next case": claim the first appeal in the reviewer's queues (or ``queue``) that they may review:
    escalated first, then stayed, then oldest filed (or the queue's configured rule). None when there is
    nothing for them. Independence (S22) and training (S2) are part of the query."""
    return _claim(reviewer, queue, State.QUEUED, Review.Stage.FIRST)


def review_claim_next_second(*, reviewer: User, queue: Queue | None = None) -> Appeal | None:
    """Claim the next appeal waiting for a second review (S24), never one the reviewer decided first."""
    return _claim(reviewer, queue, State.AWAITING_SECOND_REVIEW, Review.Stage.SECOND)


def review_release(*, appeal: Appeal | Any, actor: Any, reason: str = "") -> Appeal:
    """Give a claimed case back to its queue: the claimant, or a supervisor."""
    with transaction.atomic():
        a = _lock(appeal)
        if a.claimed_by_id is None:
            return a
        if _user(actor) is None or a.claimed_by_id != actor.pk:
            _require_supervisor(actor)
        claimant = a.claimed_by_id
        _step(
            a,
            Event.RELEASE,
            actor=actor,
            fields=_claim_fields(a, None, clock.now()),
            data={"reviewer": claimant, "why": _text(reason)[:200]},
        )
    return a


def review_reassign(*, appeal: Appeal | Any, to: User, actor: Any, reason: str = "") -> Appeal:
    """A supervisor gives the case to a named reviewer, who must have authority, training and independence."""
    _require_supervisor(actor)
    with transaction.atomic():
        a = _lock(appeal)
        _require_reviewer(to, a.decision.system)
        _require_independent(a, to)
        if a.queue_id is None or not QueueMembership.objects.filter(queue_id=a.queue_id, user=to).exists():
            raise PermissionDenied(
                f"{to.get_username()} is not a member of this appeal's queue.", code="not-queue-member"
            )
        now = clock.now()
        previous = a.claimed_by_id
        waiting = a.status == State.AWAITING_APPELLANT
        stage = Review.Stage.SECOND if a.status == State.AWAITING_SECOND_REVIEW else Review.Stage.FIRST
        _step(
            a,
            Event.ASSIGN,
            actor=actor,
            fields=_claim_fields(a, to, now, waiting=waiting),
            data={"reviewer": to.pk, "previous": previous, "why": _text(reason)[:200]},
        )
        _start_review(a, to, stage, now)
    return a


def claims_release_lapsed(*, now: datetime | None = None, actor: Any = SYSTEM) -> int:
    """Claims idle longer than ``APPEALS_CLAIM_IDLE_MINUTES`` go back to the queue. Returns how many."""
    now = now or clock.now()
    count = 0
    while True:
        with transaction.atomic():
            batch = list(
                Appeal.objects.select_for_update(skip_locked=True)
                .filter(status__in=[State.IN_REVIEW, State.AWAITING_SECOND_REVIEW], claim_expires_at__lt=now)
                .values_list("pk", flat=True)[:200]
            )
            if not batch:
                return count
            for pk in batch:
                a = _lock(pk)
                if a.claim_expires_at is None or a.claim_expires_at >= now:
                    continue
                claimant = a.claimed_by_id
                _step(
                    a,
                    Event.LAPSE,
                    actor=actor,
                    fields=_claim_fields(a, None, now),
                    data={"reviewer": claimant},
                )
                count += 1


# ---------------------------------------------------------------------------------------------- review


def _review(a: Appeal, reviewer: User, stage: str) -> Review:
    review, _ = Review.objects.select_for_update().get_or_create(
        appeal=a, reviewer=reviewer, stage=stage, defaults={"started_at": a.claimed_at or clock.now()}
    )
    return review


def _touch(a: Appeal, now: datetime) -> list[str]:
    if a.claim_expires_at is None:
        return []
    a.claim_expires_at = now + claim_idle()
    return ["claim_expires_at"]


def review_record_blind_assessment(
    *, appeal: Appeal | Any, reviewer: User, outcome: str, note: str = ""
) -> Review:
    """S23: the reviewer's own view, recorded before the machine's outcome and score are shown. Kept next
    to the final outcome; it cannot be changed once recorded."""
    with transaction.atomic():
        a = _lock(appeal)
        if a.status != State.IN_REVIEW:
            raise TransitionNotAllowed(
                f"{a.reference} is {a.get_status_display().lower()}: no assessment now."
            )
        _require_claimant(a, reviewer)
        choice = Outcome.objects.filter(version_id=a.decision.version_id, code=outcome).first()
        if choice is None:
            raise ValidationFailed(
                errors=[field_error("outcome", "unknown-outcome", "Choose one of the system's outcomes.")]
            )
        review = _review(a, reviewer, Review.Stage.FIRST)
        if review.blind_at is not None:
            raise Conflict(
                "Your initial assessment is already recorded and cannot change.", code="assessment-recorded"
            )
        now = clock.now()
        review.blind_outcome, review.blind_note, review.blind_at = choice, _text(note), now
        review.save(update_fields=["blind_outcome", "blind_note", "blind_at"])
        touched = _touch(a, now)
        if touched:
            a.save(update_fields=touched)
        audit.record(
            actor=reviewer,
            action="appeal.blind_assessment_recorded",
            target=a,
            data=_subject_data(a)
            | {"reviewer": reviewer.pk, "outcome": choice.code, "adverse": choice.adverse},
        )
    return review


def _check_relied_on(a: Appeal, tokens: Sequence[str]) -> list[str]:
    files = {str(pk) for pk in a.evidence.values_list("pk", flat=True)}
    replies = {
        f"reply:{pk}"
        for pk in a.information_requests.filter(replied_at__isnull=False).values_list("pk", flat=True)
    }
    valid = {"statement", "decision_record"} | files | replies
    tokens = [str(t) for t in tokens]
    errors = []
    if not tokens:
        errors.append(field_error("evidence_relied_on", "required", "Cite what you relied on (S26)."))
    for i, t in enumerate(tokens):
        if t not in valid:
            errors.append(
                field_error(
                    f"evidence_relied_on.{i}",
                    "unknown-evidence",
                    "Cite the statement, the decision record, a file or a reply of this appeal.",
                )
            )
    _refuse(errors)
    return list(dict.fromkeys(tokens))


def _ready_to_decide(a: Appeal, reviewer: User) -> None:
    _require_claimant(a, reviewer)
    _require_reviewer(reviewer, a.decision.system)
    _require_independent(a, reviewer)
    missing = selectors.unopened_items(a, reviewer)
    if missing:
        raise EvidenceNotOpened(
            f"Open {'the statement and ' if 'statement' in missing else ''}every file before deciding "
            f"({len(missing)} not opened yet, S21).",
            extra={"unopened": missing},
        )


def review_decide(
    *,
    appeal: Appeal | Any,
    reviewer: User,
    outcome: str,
    rationale: str,
    evidence_relied_on: Sequence[str],
    new_outcome: str = "",
    remedy: Sequence[str] = (),
    remedy_note: str = "",
) -> Appeal:
    """Record the outcome (S21, S26) and carry it through (S27).

    Refused unless the reviewer holds the case, has authority and training, is independent, recorded a
    blind assessment where the system requires one (S23), and opened the statement and every file (S21).
    ``outcome`` is upheld, overturned (``new_outcome``: a non-adverse outcome of the version; defaults to
    the only one) or modified (``new_outcome`` required). ``evidence_relied_on`` lists "statement",
    "decision_record", evidence file ids and "reply:<id>" of answered information requests.
    Where four eyes apply (S24) the case waits for a second reviewer; otherwise the outcome is applied.
    """
    errors = []
    if outcome not in A.Outcome.values:
        errors.append(field_error("outcome", "invalid", "upheld, overturned or modified"))
    if len(_text(rationale)) < MIN_RATIONALE:
        errors.append(field_error("rationale", "too-short", "Write the reasons for the outcome (S26)."))
    remedy = list(dict.fromkeys(remedy))
    if set(remedy) - set(A.Remedy.values):
        errors.append(field_error("remedy", "invalid", f"One of: {', '.join(A.Remedy.values)}."))
    if remedy and outcome == A.Outcome.UPHELD:
        errors.append(field_error("remedy", "not-applicable", "An upheld decision owes no remedy."))
    _refuse(errors)
    with transaction.atomic():
        a = _lock(appeal)
        next_state(a.status, Event.DECIDE)
        _ready_to_decide(a, reviewer)
        d = a.decision
        review = _review(a, reviewer, Review.Stage.FIRST)
        if d.system.blind_review and review.blind_at is None:
            raise BlindAssessmentRequired(
                f"{d.system.name} requires blind review: record your own assessment first (S23)."
            )
        tokens = _check_relied_on(a, evidence_relied_on)
        target = None
        if outcome != A.Outcome.UPHELD:
            target = _target_outcome(d, outcome, new_outcome)
        now = clock.now()
        review.outcome, review.new_outcome, review.rationale = outcome, target, _text(rationale)
        review.evidence_relied_on, review.remedy, review.decided_at = tokens, remedy, now
        review.seconds_spent = max(0, int((now - review.started_at).total_seconds()))
        review.agrees_with_machine = outcome == A.Outcome.UPHELD
        review.save()
        stays_adverse = outcome == A.Outcome.UPHELD or bool(target and target.adverse)
        data = {
            "reviewer": reviewer.pk,
            "outcome": outcome,
            "new_outcome": target.code if target else None,
            "evidence_relied_on": tokens,
            "seconds_spent": review.seconds_spent,
            "blind_outcome": review.blind_outcome.code if review.blind_outcome else None,
        }
        if d.system.requires_four_eyes and d.adverse and stays_adverse:
            _step(
                a,
                Event.DECIDE_FOR_SECOND_REVIEW,
                actor=reviewer,
                fields=_claim_fields(a, None, now),
                data=data,
            )
            return a
        a.remedy_note = _text(remedy_note)
        _step(
            a,
            Event.DECIDE,
            actor=reviewer,
            fields=[*_outcome_fields(a, review, reviewer, now), "remedy_note"],
            data=data,
        )
        _outcome_notices(a, review, reviewer)
    return a


def _target_outcome(d: Decision, outcome: str, code: str) -> Outcome:
    options = Outcome.objects.filter(version_id=d.version_id)
    if outcome == A.Outcome.OVERTURNED and not code:
        favourable = list(options.filter(adverse=False))
        if len(favourable) != 1:
            raise ValidationFailed(
                errors=[field_error("new_outcome", "required", "Choose the outcome that replaces it.")]
            )
        return favourable[0]
    target = options.filter(code=code).first()
    if target is None:
        raise ValidationFailed(
            errors=[field_error("new_outcome", "unknown-outcome", "Choose one of the system's outcomes.")]
        )
    if outcome == A.Outcome.OVERTURNED and target.adverse:
        raise ValidationFailed(
            errors=[
                field_error(
                    "new_outcome",
                    "adverse-outcome",
                    "An overturn replaces the decision with an outcome that is not adverse.",
                )
            ]
        )
    if outcome == A.Outcome.MODIFIED and target.pk == d.outcome_id:
        raise ValidationFailed(
            errors=[field_error("new_outcome", "same-outcome", "Choose a different outcome, or uphold.")]
        )
    return target


def _staff_ref(user: User) -> str:
    return user.staff_ref or f"user:{user.pk}"


def _outcome_fields(a: Appeal, review: Review, decided_by: User, now: datetime) -> list[str]:
    """Carry the outcome through (S27): uphold lifts the stay; overturn or modify supersedes the decision
    through ``decisions.outcomes``. Returns the appeal fields changed (status is saved by ``_step``)."""
    a.outcome, a.decided_at, a.remedy = review.outcome, now, list(review.remedy or [])
    fields = ["outcome", "decided_at", "remedy", *_claim_fields(a, None, now)]
    if review.outcome == A.Outcome.UPHELD:
        return fields + _lift_stay(a, decided_by, now, "appeal upheld")
    assert review.new_outcome is not None  # noqa: S101 - review_decide always sets it for these outcomes
    new = outcomes.decision_reverse(
        decision=a.decision,
        outcome=review.new_outcome.code,
        modified=review.outcome == A.Outcome.MODIFIED,
        by=_staff_ref(review.reviewer),
        actor=decided_by,
        reference=a.reference,
        remedy=a.remedy,
    )
    a.resulting_decision = new
    fields.append("resulting_decision")
    if a.stay == A.Stay.APPLIED:
        a.stay, a.stay_lifted_at = A.Stay.LIFTED, now
        fields += ["stay", "stay_lifted_at"]
    return fields


def _outcome_notices(a: Appeal, review: Review, actor: Any) -> None:
    """Tell the person and the integrator, then the handlers higher floors registered (``appeals.hooks``)."""
    a.decision.refresh_from_db(fields=["status"])
    key = "decision_reversed" if a.outcome == A.Outcome.OVERTURNED else "appeal_outcome"
    notices.compose_for(
        a, key, notices.appeal_outcome_elements(a, review, a.language), dedupe="outcome", actor=actor
    )
    new = a.resulting_decision
    _webhook(
        a,
        "appeal.decided",
        {
            "outcome": a.outcome,
            "remedy": a.remedy,
            "new_decision": {
                "id": str(new.pk),
                "external_id": new.external_id,
                "public_reference": new.public_reference,
                "outcome": new.outcome.code,
                "adverse": new.adverse,
            }
            if new
            else None,
        },
        actor,
    )
    hooks.outcome_recorded(a)


def review_confirm_second(*, appeal: Appeal | Any, reviewer: User, confirm: bool, rationale: str) -> Appeal:
    """S24: a second, independent reviewer confirms the first reviewer's outcome (it is then applied) or
    does not (the appeal goes back to the queue, escalated, for fresh eyes). They must hold the case and
    have opened the statement and every file, like the first reviewer (S21)."""
    if len(_text(rationale)) < MIN_RATIONALE:
        raise ValidationFailed(
            errors=[field_error("rationale", "too-short", "Write why you confirm or not.")]
        )
    with transaction.atomic():
        a = _lock(appeal)
        next_state(a.status, Event.CONFIRM)
        _ready_to_decide(a, reviewer)
        first = (
            a.reviews.filter(stage=Review.Stage.FIRST, decided_at__isnull=False)
            .select_related("new_outcome", "reviewer")
            .order_by("-decided_at")
            .first()
        )
        if first is None:  # pragma: no cover - awaiting_second_review is reached only with a decided review
            raise TransitionNotAllowed("There is no first review to confirm.")
        now = clock.now()
        second = _review(a, reviewer, Review.Stage.SECOND)
        second.outcome, second.new_outcome, second.confirmed = first.outcome, first.new_outcome, confirm
        second.rationale, second.decided_at = _text(rationale), now
        second.seconds_spent = max(0, int((now - second.started_at).total_seconds()))
        second.save()
        data = {"reviewer": reviewer.pk, "first_reviewer": first.reviewer_id, "outcome": first.outcome}
        if confirm:
            _step(
                a, Event.CONFIRM, actor=reviewer, fields=_outcome_fields(a, first, reviewer, now), data=data
            )
            _outcome_notices(a, first, reviewer)
        else:
            a.escalated = True
            a.escalated_at = a.escalated_at or now
            _step(
                a,
                Event.DISAGREE,
                actor=reviewer,
                fields=[*_claim_fields(a, None, now), "escalated", "escalated_at"],
                data=data,
            )
    return a


# ---------------------------------------------------------------------------------------------- the clock


def _resume_clock(a: Appeal, now: datetime) -> list[str]:
    """End a pause: the due date moves by the calendar days spent waiting on the person (S25)."""
    if a.clock_paused_at is None:
        return []
    tz = _tz(a)
    days = max(0, (clock.local_date(now, tz) - clock.local_date(a.clock_paused_at, tz)).days)
    a.due_date += timedelta(days=days)
    a.paused_days += days
    a.clock_paused_at = None
    return ["due_date", "paused_days", "clock_paused_at"]


def information_request(
    *, appeal: Appeal | Any, reviewer: User, question: str, reply_days: int | None = None
) -> InformationRequest:
    """The reviewer asks the person something. The institution's clock pauses until the reply or the reply
    deadline (S25); the claim is kept while waiting."""
    if not _text(question):
        raise ValidationFailed(errors=[field_error("question", "required", "Write the question.")])
    days = reply_days if reply_days is not None else information_reply_days()
    if not 1 <= days <= 90:
        raise ValidationFailed(errors=[field_error("reply_days", "invalid", "Between 1 and 90 days.")])
    with transaction.atomic():
        a = _lock(appeal)
        next_state(a.status, Event.REQUEST_INFORMATION)
        _require_claimant(a, reviewer)
        now = clock.now()
        request = InformationRequest.objects.create(
            appeal=a,
            asked_by=reviewer,
            question=_text(question),
            asked_at=now,
            reply_due=clock.deadline_date(now, days, _tz(a)),
        )
        a.clock_paused_at = now
        a.claim_expires_at = None
        _step(
            a,
            Event.REQUEST_INFORMATION,
            actor=reviewer,
            fields=["clock_paused_at", "claim_expires_at"],
            data={"reviewer": reviewer.pk, "request": request.pk, "reply_due": request.reply_due.isoformat()},
        )
        notices.compose_for(
            a,
            "information_requested",
            notices.information_requested_elements(a, request, a.language),
            dedupe=f"information:{request.pk}",
            actor=reviewer,
        )
    return request


def information_reply(
    *, appeal: Appeal | Any, reply: str, actor: Any, files: Sequence[Any] = ()
) -> InformationRequest:
    """The person answers (with files if they like): the clock runs again and the reviewer goes on."""
    if not _text(reply) and not files:
        raise ValidationFailed(errors=[field_error("reply", "required", "Write your answer or add a file.")])
    with transaction.atomic():
        a = _lock(appeal)
        next_state(a.status, Event.INFORMATION_RECEIVED)
        request = (
            a.information_requests.filter(replied_at__isnull=True, timed_out_at__isnull=True)
            .order_by("-asked_at")
            .first()
        )
        if request is None:  # pragma: no cover - awaiting_appellant always has an open request
            raise TransitionNotAllowed("There is no open question to answer.")
        checked = _check_uploads(files, a.evidence.count())
        now = clock.now()
        rows = _store(a, checked, now) if checked else []
        request.reply, request.replied_at = _text(reply), now
        request.save(update_fields=["reply", "replied_at"])
        fields = _resume_clock(a, now)
        if a.claimed_by_id is not None:
            a.claim_expires_at = now + claim_idle()
            fields.append("claim_expires_at")
        _step(
            a,
            Event.INFORMATION_RECEIVED,
            actor=actor,
            fields=fields,
            data={"request": request.pk, "evidence": _evidence_data(rows), "paused_days": a.paused_days},
        )
    return request


def information_requests_expire(*, now: datetime | None = None, actor: Any = SYSTEM) -> int:
    """Reply deadlines that passed: the review goes on with what the institution has; the clock runs again."""
    now = now or clock.now()
    count = 0
    waiting = Appeal.objects.filter(status=State.AWAITING_APPELLANT).values_list("pk", flat=True)
    for pk in list(waiting):
        with transaction.atomic():
            a = _lock(pk)
            if a.status != State.AWAITING_APPELLANT:
                continue
            request = (
                a.information_requests.filter(replied_at__isnull=True, timed_out_at__isnull=True)
                .order_by("-asked_at")
                .first()
            )
            if request is None or not clock.is_past(request.reply_due, _tz(a), at=now):
                continue
            request.timed_out_at = now
            request.save(update_fields=["timed_out_at"])
            fields = _resume_clock(a, now)
            if a.claimed_by_id is not None:
                a.claim_expires_at = now + claim_idle()
                fields.append("claim_expires_at")
            _step(a, Event.INFORMATION_TIMEOUT, actor=actor, fields=fields, data={"request": request.pk})
            count += 1
    return count


def escalate_overdue(*, now: datetime | None = None, actor: Any = SYSTEM) -> int:
    """S25: every appeal whose due date has passed (in its system's zone) while the clock runs is escalated:
    an ``Escalation`` flag for supervisors (told by email after commit), the appeal moves ahead in its queue,
    and the person gets a delay notice with a new date. Once per escalation: a missed new date escalates
    again. Returns how many were escalated."""
    now = now or clock.now()
    count = 0
    for pk in list(selectors.overdue_appeals(at=now + timedelta(days=1)).values_list("pk", flat=True)):
        with transaction.atomic():
            a = (
                Appeal.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("decision__system", "decision__subject")
                .filter(pk=pk)
                .first()
            )
            if (
                a is None
                or a.status not in CLOCK_RUNNING_STATES
                or not clock.is_past(a.due_date, _tz(a), at=now)
            ):
                continue
            number = a.escalation_count + 1
            missed = a.due_date
            new_due = clock.deadline_date(now, escalation_days(), _tz(a))
            escalation = Escalation.objects.create(
                appeal=a, number=number, escalated_at=now, missed_due_date=missed, new_due_date=new_due
            )
            a.escalated, a.escalated_at, a.escalation_count, a.due_date = True, now, number, new_due
            a.save(update_fields=["escalated", "escalated_at", "escalation_count", "due_date"])
            audit.record(
                actor=actor,
                action="appeal.escalated",
                target=a,
                data=_subject_data(a)
                | {
                    "number": number,
                    "missed_due_date": missed.isoformat(),
                    "new_due_date": new_due.isoformat(),
                    "status": a.status,
                },
            )
            notices.compose_for(
                a,
                "delay",
                notices.delay_elements(a, missed, new_due, a.language),
                dedupe=f"delay:{number}",
                actor=actor,
            )
            from appeals.tasks import tell_supervisors

            transaction.on_commit(partial(tell_supervisors.delay, escalation.pk), robust=True)
            count += 1
    return count


def supervisors_for(appeal: Appeal) -> list[User]:
    """Who hears about an escalation: the queue's supervisors, else every active senior reviewer."""
    users = list(
        User.objects.filter(
            queue_memberships__queue=appeal.queue,
            queue_memberships__role=QueueMembership.Role.SUPERVISOR,
            is_active=True,
        )
    )
    return users or list(User.objects.filter(groups__name="senior reviewer", is_active=True))


def escalation_tell_supervisors(*, escalation_id: int) -> int:
    """Email the supervisors about one escalation, once (no personal data: the reference and dates)."""
    from django.core.mail import send_mail

    with transaction.atomic():
        e = (
            Escalation.objects.select_for_update()
            .select_related("appeal", "appeal__decision__system")
            .filter(pk=escalation_id)
            .first()
        )
        if e is None or e.supervisors_told_at is not None:
            return 0
        to = [u.email for u in supervisors_for(e.appeal) if u.email]
        e.supervisors_told_at = clock.now()
        e.save(update_fields=["supervisors_told_at"])
        audit.record(
            actor=SYSTEM,
            action="appeal.supervisors_told",
            target=e.appeal,
            data={"escalation": e.number, "recipients": len(to)},
        )
    if to:
        a = e.appeal
        send_mail(
            subject=f"Overdue appeal {a.reference} escalated ({a.decision.system.name})",
            message=(
                f"Appeal {a.reference} missed its due date {e.missed_due_date.isoformat()}. "
                f"The person was told to expect an answer by {e.new_due_date.isoformat()}.\n\n"
                f"{settings.SITE_URL}/review/appeals/{a.pk}/"
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=to,
        )
    return len(to)


def escalation_acknowledge(*, escalation: Escalation, actor: Any) -> Escalation:
    """A supervisor has seen the escalation (the staff flag goes away)."""
    _require_supervisor(actor)
    with transaction.atomic():
        e = Escalation.objects.select_for_update().select_related("appeal").get(pk=escalation.pk)
        if e.acknowledged_at is not None:
            return e
        e.acknowledged_by, e.acknowledged_at = _user(actor), clock.now()
        e.save(update_fields=["acknowledged_by", "acknowledged_at"])
        audit.record(
            actor=actor,
            action="appeal.escalation_acknowledged",
            target=e.appeal,
            data={"escalation": e.number},
        )
    return e


# ------------------------------------------------------------------------------------------ disputes (S19)


def dispute_file(
    *,
    decision: Decision | Any,
    feature: str,
    what_is_wrong: str,
    actor: Any,
    proposed_value: Any = None,
    channel: str = Channel.PORTAL,
    evidence: Sequence[Any] = (),
    language: str = "",
) -> DataDispute:
    """The person disputes one input value of a decision. The value is marked disputed; the institution has
    30 days (plus 15 if the person adds information in that time) to check it."""
    errors = []
    if not _text(what_is_wrong):
        errors.append(
            field_error("what_is_wrong", "required", "Tell us what is wrong with this information.")
        )
    if channel not in Channel.values:
        errors.append(field_error("channel", "invalid", f"One of: {', '.join(Channel.values)}."))
    _refuse(errors)
    checked = _check_uploads(evidence, 0)
    with transaction.atomic():
        d = (
            Decision.objects.select_for_update(of=("self",))
            .select_related("system", "subject", "recorded_by")
            .filter(pk=getattr(decision, "pk", decision))
            .first()
        )
        if d is None:
            raise NotFound("No such decision.")
        if d.status not in outcomes.LIVE_STATUSES:
            raise DecisionNotAppealable(
                f"The decision {d.public_reference} was replaced; dispute the newer one.",
                code="decision-replaced",
            )
        row = d.inputs.select_related("feature").filter(feature__name=feature).first()
        if row is None:
            raise ValidationFailed(
                errors=[field_error("feature", "not-an-input", "This decision did not use that information.")]
            )
        open_ = DataDispute.objects.filter(decision_input=row, status=DataDispute.Status.OPEN).first()
        if open_ is not None:
            raise DisputeAlreadyOpen(
                f"We are already checking this information ({open_.reference}). Add to that instead.",
                extra={"dispute": open_.reference},
            )
        now = clock.now()
        due = clock.deadline_date(now, DISPUTE_DAYS, d.system.time_zone)
        dispute = DataDispute.objects.create(
            reference=_fresh_reference("DSP", DataDispute),
            decision=d,
            decision_input=row,
            feature=feature,
            disputed_value=row.value,
            what_is_wrong=_text(what_is_wrong),
            proposed_value=proposed_value,
            channel=channel,
            language=notices.language_for(language or d.subject.language),
            filed_at=now,
            original_due_date=due,
            due_date=due,
            created_at=now,
        )
        rows = _store(dispute, checked, now) if checked else []
        outcomes.decision_input_mark_disputed(
            decision_input=row, disputed=True, actor=actor, reference=dispute.reference
        )
        audit.record(
            actor=actor,
            action="dispute.filed",
            target=dispute,
            data={
                "decision": str(d.pk),
                "subject": d.subject.pseudonym,
                "feature": feature,
                "due_date": due.isoformat(),
                "evidence": _evidence_data(rows),
            },
        )
    return dispute


def _lock_dispute(dispute: DataDispute | Any) -> DataDispute:
    return (
        DataDispute.objects.select_for_update(of=("self",))
        .select_related("decision", "decision__system", "decision__subject", "decision_input__feature")
        .get(pk=getattr(dispute, "pk", dispute))
    )


def dispute_add_information(
    *, dispute: DataDispute | Any, information: str, actor: Any, evidence: Sequence[Any] = ()
) -> DataDispute:
    """The person adds information. Within the first 30 days this gives the institution 15 more days, once."""
    if not _text(information) and not evidence:
        raise ValidationFailed(
            errors=[field_error("information", "required", "Write what you want to add, or add a file.")]
        )
    with transaction.atomic():
        dsp = _lock_dispute(dispute)
        if dsp.status != DataDispute.Status.OPEN:
            raise TransitionNotAllowed(f"{dsp.reference} is {dsp.get_status_display().lower()}.")
        checked = _check_uploads(evidence, dsp.evidence.count())
        now = clock.now()
        rows = _store(dsp, checked, now) if checked else []
        stamp = clock.local_date(now, dsp.decision.system.time_zone).isoformat()
        text = _text(information)
        dsp.additional_information = "\n\n".join(
            x for x in (dsp.additional_information, f"[{stamp}] {text}" if text else "") if x
        )
        dsp.information_added_at = now
        fields = ["additional_information", "information_added_at"]
        if not dsp.extended and not clock.is_past(
            dsp.original_due_date, dsp.decision.system.time_zone, at=now
        ):
            dsp.due_date = dsp.original_due_date + timedelta(days=DISPUTE_EXTENSION_DAYS)
            dsp.extended = True
            fields += ["due_date", "extended"]
        dsp.save(update_fields=fields)
        audit.record(
            actor=actor,
            action="dispute.information_added",
            target=dsp,
            data={
                "subject": dsp.decision.subject.pseudonym,
                "due_date": dsp.due_date.isoformat(),
                "extended": dsp.extended,
                "evidence": _evidence_data(rows),
            },
        )
    return dsp


def _label(decision: Decision) -> dict[str, str]:
    return dict(decision.outcome.label or {})


def dispute_resolve(
    *, dispute: DataDispute | Any, corrected: bool, note: str, actor: Any, corrected_value: Any = None
) -> DataDispute:
    """Close a dispute (S19). Rejected: the value stands, with reasons. Corrected: every live decision about
    the person that used the value is re-evaluated at once: built-in scorecard decisions are re-scored and
    superseded when the outcome changes (an open appeal on a superseded decision becomes moot); other
    systems' integrators are asked to decide again. The person is told the result for each decision."""
    user = _require_staff(actor)
    errors = []
    if not _text(note):
        errors.append(field_error("note", "required", "Say what you checked and what you found."))
    if corrected and corrected_value is None:
        errors.append(field_error("corrected_value", "required", "Give the right value."))
    _refuse(errors)
    with transaction.atomic():
        dsp = _lock_dispute(dispute)
        if dsp.status != DataDispute.Status.OPEN:
            raise TransitionNotAllowed(f"{dsp.reference} is already {dsp.get_status_display().lower()}.")
        if corrected and corrected_value == dsp.disputed_value:
            raise ValidationFailed(
                errors=[field_error("corrected_value", "unchanged", "That is the value already recorded.")]
            )
        now = clock.now()
        effects: list[dict[str, Any]] = []
        keep_flag = False
        if corrected:
            corrections = {dsp.feature: corrected_value}
            for inp in outcomes.decisions_using_value(dsp.decision_input):
                d = inp.decision
                entry: dict[str, Any] = {
                    "decision": str(d.pk),
                    "reference": d.public_reference,
                    "from_outcome": d.outcome.code,
                }
                if d.version.scorecard:
                    r = outcomes.decision_rescore(
                        decision=d, corrections=corrections, actor=actor, reference=dsp.reference
                    )
                    entry["to_outcome"] = r.new_outcome
                    if r.new_decision is not None:
                        entry |= {
                            "action": "superseded",
                            "new_decision": str(r.new_decision.pk),
                            "new_reference": r.new_decision.public_reference,
                            "to_label": _label(r.new_decision),
                        }
                        for a in Appeal.objects.filter(decision=d, status__in=[s.value for s in OPEN_STATES]):
                            appeal_moot(
                                appeal=a,
                                actor=actor,
                                reason=f"The decision was replaced after data dispute {dsp.reference}.",
                                corrected=True,
                            )
                    else:
                        entry["action"] = "unchanged"
                        keep_flag = keep_flag or inp.pk == dsp.decision_input_id
                else:
                    outcomes.decision_redecide_request(
                        decision=d, corrections=corrections, actor=actor, reference=dsp.reference
                    )
                    entry["action"] = "redecide_requested"
                    keep_flag = keep_flag or inp.pk == dsp.decision_input_id
                effects.append(entry)
        if not keep_flag:
            outcomes.decision_input_mark_disputed(
                decision_input=dsp.decision_input, disputed=False, actor=actor, reference=dsp.reference
            )
        dsp.status = DataDispute.Status.CORRECTED if corrected else DataDispute.Status.REJECTED
        dsp.resolution_note, dsp.corrected_value = _text(note), corrected_value if corrected else None
        dsp.resolved_by, dsp.resolved_at, dsp.effects = user, now, effects
        dsp.save(
            update_fields=[
                "status",
                "resolution_note",
                "corrected_value",
                "resolved_by",
                "resolved_at",
                "effects",
            ]
        )
        audit.record(
            actor=actor,
            action="dispute.resolved",
            target=dsp,
            data={
                "subject": dsp.decision.subject.pseudonym,
                "status": dsp.status,
                "feature": dsp.feature,
                "effects": [
                    {
                        k: e.get(k)
                        for k in ("decision", "action", "from_outcome", "to_outcome", "new_decision")
                    }
                    for e in effects
                ],
            },
        )
        notices.compose_for(
            dsp,
            "dispute_outcome",
            notices.dispute_outcome_elements(dsp, dsp.language),
            dedupe="outcome",
            actor=actor,
        )
    return dsp


# ------------------------------------------------------------------------------------- explanations (S20)


def explanation_request_file(
    *, decision: Decision | Any, question: str, actor: Any, channel: str = Channel.PORTAL, language: str = ""
) -> ExplanationRequest:
    """The person asks for a fuller explanation; it is due within one month (S20)."""
    errors = []
    if not _text(question):
        errors.append(field_error("question", "required", "Tell us what you want to know."))
    if channel not in Channel.values:
        errors.append(field_error("channel", "invalid", f"One of: {', '.join(Channel.values)}."))
    _refuse(errors)
    with transaction.atomic():
        d = (
            Decision.objects.select_related("system", "subject")
            .filter(pk=getattr(decision, "pk", decision))
            .first()
        )
        if d is None:
            raise NotFound("No such decision.")
        now = clock.now()
        due = clock.add_months(clock.local_date(now, d.system.time_zone), EXPLANATION_MONTHS)
        r = ExplanationRequest.objects.create(
            reference=_fresh_reference("EXP", ExplanationRequest),
            decision=d,
            question=_text(question),
            channel=channel,
            language=notices.language_for(language or d.subject.language),
            filed_at=now,
            original_due_date=due,
            due_date=due,
            created_at=now,
        )
        audit.record(
            actor=actor,
            action="explanation_request.filed",
            target=r,
            data={"decision": str(d.pk), "subject": d.subject.pseudonym, "due_date": due.isoformat()},
        )
    return r


def _lock_request(request: ExplanationRequest | Any) -> ExplanationRequest:
    return (
        ExplanationRequest.objects.select_for_update(of=("self",))
        .select_related("decision", "decision__system", "decision__subject")
        .get(pk=getattr(request, "pk", request))
    )


def explanation_request_answer(
    *, request: ExplanationRequest | Any, answer: str, actor: Any
) -> ExplanationRequest:
    """Answer in the person's language; the notice carries the answer and the full layered explanation."""
    user = _require_staff(actor)
    if not _text(answer):
        raise ValidationFailed(errors=[field_error("answer", "required", "Write the answer.")])
    with transaction.atomic():
        r = _lock_request(request)
        if r.status != ExplanationRequest.Status.OPEN:
            raise TransitionNotAllowed(f"{r.reference} is {r.get_status_display().lower()}.")
        now = clock.now()
        r.status, r.answer, r.answered_by, r.answered_at = (
            ExplanationRequest.Status.ANSWERED,
            _text(answer),
            user,
            now,
        )
        r.save(update_fields=["status", "answer", "answered_by", "answered_at"])
        late = clock.is_past(r.due_date, r.decision.system.time_zone, at=now)
        audit.record(
            actor=actor,
            action="explanation_request.answered",
            target=r,
            data={"subject": r.decision.subject.pseudonym, "late": late},
        )
        notices.compose_for(
            r,
            "explanation_response",
            notices.explanation_response_elements(r, r.language),
            dedupe="answer",
            actor=actor,
        )
    return r


def explanation_request_extend(
    *, request: ExplanationRequest | Any, reason: str, actor: Any
) -> ExplanationRequest:
    """Extend by two months (once), with reasons, told to the person before the first month runs out."""
    _require_staff(actor)
    if not _text(reason):
        raise ValidationFailed(errors=[field_error("reason", "required", "Say why you need more time.")])
    with transaction.atomic():
        r = _lock_request(request)
        if r.status != ExplanationRequest.Status.OPEN:
            raise TransitionNotAllowed(f"{r.reference} is {r.get_status_display().lower()}.")
        if r.extended_at is not None:
            raise Conflict("The answer was already extended once.", code="already-extended")
        now = clock.now()
        if clock.is_past(r.original_due_date, r.decision.system.time_zone, at=now):
            raise Conflict(
                "Too late to extend: the person must be told within the first month (S20).",
                code="too-late-to-extend",
            )
        r.due_date = clock.add_months(r.original_due_date, EXPLANATION_EXTENSION_MONTHS)
        r.extended_at, r.extension_reason = now, _text(reason)
        r.save(update_fields=["due_date", "extended_at", "extension_reason"])
        audit.record(
            actor=actor,
            action="explanation_request.extended",
            target=r,
            data={"subject": r.decision.subject.pseudonym, "due_date": r.due_date.isoformat()},
        )
        notices.compose_for(
            r,
            "explanation_extended",
            notices.explanation_extended_elements(r, r.language),
            dedupe="extended",
            actor=actor,
        )
    return r
