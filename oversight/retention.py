"""Retention (S33): personal data and flags expire after each system's retention period.

``retention_sweep`` (a periodic task, ``oversight.controls_tasks.retention_sweep``) finds, per system, the
people whose case has been quiet for the system's ``retention_days``: no decision recorded, no appeal,
dispute or explanation request filed, decided or closed since the cutoff, none still open, and no remedy
item still waiting. For them it erases, with set-based statements (no loop over people):

- their contact data (``SubjectContact`` rows deleted) and their identifier in the institution's systems
  (``Subject.external_ref`` becomes ``erased:<pseudonym>``; ``erased_at`` is set). A later decision about
  the same person starts a new pseudonymous subject;
- the addresses notices were sent to (``Notice.to_address`` blanked; the text stays as the record of what
  was said) and the "needs attention" flag of notices nobody can follow up any more;
- what they told us: appeal statements, good cause and requested remedy, replies to questions, dispute
  texts and values, explanation questions (replaced by ``[erased after retention]``), appeal contact rows
  (representative, phone, address, accessibility needs) deleted, and evidence files deleted from disk
  (after the transaction commits, so a rolled-back sweep never loses a file the database still lists);
- their group attributes in the fairness store (S32).

What stays: the decision records under the pseudonym (S5), reviews and outcomes, the figures, and the audit
chain, which never held personal data (events name people by pseudonym), so ``verify_audit`` still passes.

Expired flags are lifted too: a ``disputed`` marker on an input of a decision past retention with no open
dispute. There is no other flag on people in the house (no fraud list): when one is added, its expiry
belongs here.

One audit event per sweep, ``retention.swept``, with counts only (per system: how many people).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Concat

from appeals.models import (
    Appeal,
    AppealContact,
    DataDispute,
    EvidenceFile,
    ExplanationRequest,
    InformationRequest,
)
from appeals.workflow import OPEN_STATES
from core import audit, clock
from core.actors import SYSTEM
from decisions.models import Decision, DecisionInput, DecisionSystem, Subject, SubjectContact
from notifications.models import Notice
from oversight.controls_models import RemedyItem
from oversight.models import GroupAttribute

log = logging.getLogger(__name__)

ERASED = "[erased after retention]"
_OPEN_APPEAL = [s.value for s in OPEN_STATES]


@dataclass
class SweepResult:
    subjects: int = 0
    contacts: int = 0
    notices: int = 0
    appeals: int = 0
    appeal_contacts: int = 0
    evidence_files: int = 0
    disputes: int = 0
    information_replies: int = 0
    explanation_requests: int = 0
    group_attributes: int = 0
    flags_lifted: int = 0
    per_system: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cutoff_for(system: DecisionSystem, now: datetime) -> datetime:
    return now - timedelta(days=system.retention_days)


def expired_subjects(system: DecisionSystem, now: datetime) -> QuerySet[Subject]:
    """The people of ``system`` whose personal data is past retention (one query; see the module doc)."""
    cutoff = cutoff_for(system, now)
    subject = OuterRef("pk")
    recent_decision = Decision.objects.filter(subject=subject, recorded_at__gte=cutoff)
    active_appeal = Appeal.objects.filter(decision__subject=subject).filter(
        Q(status__in=_OPEN_APPEAL)
        | Q(filed_at__gte=cutoff)
        | Q(decided_at__gte=cutoff)
        | Q(closed_at__gte=cutoff)
        | Q(withdrawn_at__gte=cutoff)
    )
    active_dispute = DataDispute.objects.filter(decision__subject=subject).filter(
        Q(status=DataDispute.Status.OPEN) | Q(filed_at__gte=cutoff) | Q(resolved_at__gte=cutoff)
    )
    active_request = ExplanationRequest.objects.filter(decision__subject=subject).filter(
        Q(status=ExplanationRequest.Status.OPEN) | Q(filed_at__gte=cutoff) | Q(answered_at__gte=cutoff)
    )
    waiting_remedy = RemedyItem.objects.filter(
        decision__subject=subject, status__in=[RemedyItem.Status.PENDING, RemedyItem.Status.QUEUED]
    )
    return Subject.objects.filter(system=system, erased_at__isnull=True).exclude(
        Exists(recent_decision)
        | Exists(active_appeal)
        | Exists(active_dispute)
        | Exists(active_request)
        | Exists(waiting_remedy)
    )


def _erase_subjects(system: DecisionSystem, now: datetime, result: SweepResult, paths: list[str]) -> None:
    subjects = expired_subjects(system, now)
    ids = list(subjects.values_list("pk", flat=True))
    if not ids:
        return
    # Chunks keep every statement under SQLite's parameter limit; each is a handful of set-based updates.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        pseudonyms = Subject.objects.filter(pk__in=chunk).values("pseudonym")
        appeals = Appeal.objects.filter(decision__subject_id__in=chunk)
        disputes = DataDispute.objects.filter(decision__subject_id__in=chunk)
        evidence = EvidenceFile.objects.filter(Q(appeal__in=appeals) | Q(dispute__in=disputes)).exclude(
            original_name=""
        )
        paths += list(evidence.values_list("path", flat=True))
        result.evidence_files += evidence.update(original_name="")
        result.contacts += SubjectContact.objects.filter(subject_id__in=chunk).delete()[0]
        result.notices += (
            Notice.objects.filter(recipient__in=pseudonyms)
            .filter(~Q(to_address="") | Q(needs_attention=True))
            .update(to_address="", needs_attention=False)
        )
        result.appeal_contacts += AppealContact.objects.filter(appeal__in=appeals).delete()[0]
        result.appeals += appeals.exclude(statement=ERASED).update(
            statement=ERASED, good_cause="", requested_remedy=""
        )
        result.information_replies += (
            InformationRequest.objects.filter(appeal__in=appeals).exclude(reply="").update(reply=ERASED)
        )
        result.disputes += disputes.exclude(what_is_wrong=ERASED).update(
            what_is_wrong=ERASED,
            additional_information="",
            disputed_value=None,
            proposed_value=None,
            corrected_value=None,
        )
        result.explanation_requests += (
            ExplanationRequest.objects.filter(decision__subject_id__in=chunk)
            .exclude(question=ERASED)
            .update(question=ERASED)
        )
        result.group_attributes += GroupAttribute.objects.filter(subject_pseudonym__in=pseudonyms).delete()[0]
        erased = Subject.objects.filter(pk__in=chunk).update(
            external_ref=Concat(Value("erased:"), F("pseudonym")), erased_at=now
        )
        result.subjects += erased
        result.per_system[system.slug] = result.per_system.get(system.slug, 0) + erased


def _lift_flags(system: DecisionSystem, now: datetime) -> int:
    cutoff = cutoff_for(system, now)
    open_dispute = DataDispute.objects.filter(decision_input=OuterRef("pk"), status=DataDispute.Status.OPEN)
    return (
        DecisionInput.objects.filter(disputed=True, decision__system=system, decision__recorded_at__lt=cutoff)
        .exclude(Exists(open_dispute))
        .update(disputed=False)
    )


def _delete_files(paths: list[str]) -> None:
    root = Path(settings.MEDIA_ROOT).resolve()
    for rel in paths:
        target = (root / rel).resolve()
        if root not in target.parents:  # never outside the private media root
            log.warning("retention: refusing to delete %s outside MEDIA_ROOT", rel)
            continue
        try:
            target.unlink(missing_ok=True)
        except OSError:
            log.exception("retention: could not delete an evidence file")


def retention_sweep(*, now: datetime | None = None, actor: Any = SYSTEM) -> SweepResult:
    """Erase personal data past each system's retention period and lift expired flags (one transaction,
    one audit event with counts). Evidence files go from disk after commit."""
    now = now or clock.now()
    result = SweepResult()
    paths: list[str] = []
    with transaction.atomic():
        for system in DecisionSystem.objects.order_by("pk"):
            _erase_subjects(system, now, result, paths)
            result.flags_lifted += _lift_flags(system, now)
        audit.record(
            actor=actor,
            action="retention.swept",
            target_type="oversight.retention",
            target_id=now.date().isoformat(),
            data=result.as_dict(),
        )
        if paths:
            transaction.on_commit(lambda: _delete_files(paths), robust=True)
    return result
