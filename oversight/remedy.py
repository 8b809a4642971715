"""Systemic remedy (S30): when one outcome reveals a defect, every other decision it touched is found,
re-scored or re-reviewed, and the people are told.

    campaign = remedy_campaign_open(
        defect_kind="reason_code", ref=reason_code, actor=reviewer,
        description="LATE_PAYMENTS was given when the bureau's late flag was stale.", appeal=appeal,
    )

What a defect touched (found with database queries, never a loop over decisions)
    ``reason_code``  decisions whose principal reasons include that reason code (``DecisionReason``);
    ``data_source``  decisions of the same system with an input of that feature name from that source
                     (``DecisionInput``: the feature by name, so every version that took it is covered);
    ``version``      decisions taken under that version.
    Of those, the adverse decisions still standing (pending notice, waiting for a human, in effect, stayed):
    a replaced decision has its replacement in the list if the defect touched it too, and a favourable
    decision is never re-opened against the person by a remedy. The decision whose appeal revealed the
    defect (and the decision that replaced it) are left out: that case is already decided.

What is done about each (a ``RemedyItem``)
    ``rescore``   the version has a built-in scorecard and the campaign names a corrected version of the
                  same system (``rescore_version``; for a version defect, the system's newest other
                  scorecard version when none is named): the inputs are scored under it at once; a changed
                  outcome supersedes the decision (``decisions.services.decision_supersede``; a new adverse
                  outcome of a suspended or level III-IV system waits for a human), an unchanged one stands.
                  Inputs the corrected card cannot score send the item to a person instead.
    ``rereview``  otherwise: the item waits (``queued``) until a reviewer records the result on the
                  campaign page (``remedy_item_resolve``): the decision stands, or a new outcome through
                  ``decisions.outcomes.decision_reverse``. Appeals has no re-review service for decisions
                  without an appeal, so the queue is the item's status.
    A decision replaced meanwhile is ``moot``; an open appeal on a decision the remedy replaces is closed
    as moot (``appeals.services.appeal_moot``).

Telling people
    Each person gets a notice when the campaign opens (what went wrong, what we do, that they need not act,
    their rights) and another when their decision is found to stand; a changed decision sends its own
    decision notice. Notices follow ``decisions.notices``: a structured element dict, a completeness gate on
    the data, a template per language (``templates/oversight/controls/notices/``) and a coverage check of
    the rendered text. Integrators hear ``decision.remedied`` for every re-scored decision that changed.

Opening writes the campaign and its items (bulk) in one transaction; notices and re-scoring run after commit
in a task (``oversight.controls_tasks.remedy_campaign_process``) in batches, and the periodic
``remedy_campaigns_resume`` picks up a campaign whose task was lost. The campaign completes itself when no
item is left pending or queued.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.template import engines

from appeals import selectors as appeal_selectors
from appeals.models import Appeal
from appeals.workflow import OPEN_STATES
from core import audit, clock
from core.actors import SYSTEM, as_actor
from core.errors import (
    ApplicationError,
    NotFound,
    PermissionDenied,
    TransitionNotAllowed,
    ValidationFailed,
    field_error,
)
from core.ids import public_reference
from core.models import User
from decisions import access, outcomes, scorecards
from decisions import notices as decision_notices
from decisions.explanations import language_for, localized
from decisions.models import (
    Decision,
    DecisionInput,
    DecisionReason,
    DecisionSystem,
    HumanInvolvement,
    ReasonCode,
    SubjectContact,
    SystemVersion,
)
from decisions.notices import NoticeIncomplete, RenderedNotice
from notifications.models import Notice
from oversight.controls_models import (
    DefectKind,
    RemedyCampaign,
    RemedyItem,
)
from oversight.incidents import is_controller

I = RemedyItem.Status  # noqa: E741
OPEN_ITEM_STATUSES = (I.PENDING, I.QUEUED)
LIVE_STATUSES = sorted(outcomes.LIVE_STATUSES)
BATCH = 200
MIN_TEXT = 10

#: Remedy notices have their own kind, so the person's inbox and the outbox say what they are.
REMEDY_NOTICE_KIND = Notice.Kind.REMEDY


# ---------------------------------------------------------------------------------------------- who


def _require_reviewer(actor: Any) -> User | None:
    """Reviewers (who find defects in their cases), senior reviewers and admins; never auditors."""
    if not isinstance(actor, User) and as_actor(actor).kind == "system":
        return None
    if not (appeal_selectors.has_reviewer_authority(actor) or is_controller(actor)):
        raise PermissionDenied(
            "Only reviewers, senior reviewers and administrators may do this.", code="reviewer-only"
        )
    return actor if isinstance(actor, User) else None


# ---------------------------------------------------------------------------------------------- finding


@dataclass(frozen=True)
class Defect:
    """What is defective, resolved from what the caller passed."""

    kind: str
    system: DecisionSystem
    reason_code: ReasonCode | None = None
    feature_name: str = ""
    source: str = ""
    version: SystemVersion | None = None

    @property
    def label(self) -> str:
        if self.kind == DefectKind.REASON_CODE and self.reason_code is not None:
            return f"reason code {self.reason_code.code} ({self.reason_code.version.version})"
        if self.kind == DefectKind.DATA_SOURCE:
            return f"{self.feature_name} from {self.source}"
        return f"version {self.version.version if self.version else '?'}"


def resolve_defect(defect_kind: str, ref: Any) -> Defect:
    """``ref`` by kind: a ReasonCode; a DecisionInput (its feature and source) or a ``(Feature, source)``
    pair; a SystemVersion. Refuses (422) anything else."""
    bad = ValidationFailed(
        "Say what is defective.",
        errors=[field_error("ref", "invalid", "A reason code, an input (feature and source) or a version.")],
    )
    if defect_kind == DefectKind.REASON_CODE and isinstance(ref, ReasonCode):
        rc = ReasonCode.objects.select_related("version__system").get(pk=ref.pk)
        return Defect(defect_kind, rc.version.system, reason_code=rc)
    if defect_kind == DefectKind.DATA_SOURCE:
        if isinstance(ref, DecisionInput):
            row = DecisionInput.objects.select_related("feature__version__system").get(pk=ref.pk)
            feature, source = row.feature, row.source
        elif isinstance(ref, tuple) and len(ref) == 2:
            feature, source = ref
            feature = type(feature).objects.select_related("version__system").get(pk=feature.pk)
        else:
            raise bad
        if not str(source or "").strip():
            raise bad
        return Defect(defect_kind, feature.version.system, feature_name=feature.name, source=str(source))
    if defect_kind == DefectKind.VERSION and isinstance(ref, SystemVersion):
        v = SystemVersion.objects.select_related("system").get(pk=ref.pk)
        return Defect(defect_kind, v.system, version=v)
    if defect_kind not in DefectKind.values:
        raise ValidationFailed(
            errors=[field_error("defect_kind", "invalid", "reason_code, data_source or version")]
        )
    raise bad


def affected_decisions(defect: Defect, *, exclude: Sequence[Any] = ()) -> QuerySet[Decision]:
    """Every live adverse decision the defect touched (see the module doc), as one query."""
    qs = Decision.objects.filter(system_id=defect.system.pk, adverse=True, status__in=LIVE_STATUSES)
    if defect.kind == DefectKind.REASON_CODE:
        qs = qs.filter(
            Exists(DecisionReason.objects.filter(decision=OuterRef("pk"), reason_code=defect.reason_code))
        )
    elif defect.kind == DefectKind.DATA_SOURCE:
        qs = qs.filter(
            Exists(
                DecisionInput.objects.filter(
                    decision=OuterRef("pk"), feature__name=defect.feature_name, source=defect.source
                )
            )
        )
    else:
        qs = qs.filter(version=defect.version)
    excluded = [pk for pk in exclude if pk is not None]
    return qs.exclude(pk__in=excluded) if excluded else qs


def _rescore_target(defect: Defect, rescore_version: SystemVersion | None) -> SystemVersion | None:
    if rescore_version is not None:
        problems = []
        if rescore_version.system_id != defect.system.pk:
            problems.append("The corrected version must be a version of the same system.")
        if not rescore_version.scorecard:
            problems.append("The corrected version has no built-in scorecard to re-score with.")
        if defect.kind == DefectKind.VERSION and defect.version and rescore_version.pk == defect.version.pk:
            problems.append("The corrected version cannot be the defective one.")
        if problems:
            raise ValidationFailed(
                problems[0], errors=[field_error("rescore_version", "invalid", p) for p in problems]
            )
        return rescore_version
    if defect.kind == DefectKind.VERSION and defect.version is not None:
        return (
            SystemVersion.objects.filter(system_id=defect.system.pk, scorecard__isnull=False)
            .exclude(pk=defect.version.pk)
            .order_by("-created_at", "-pk")
            .first()
        )
    return None


def _fresh_reference() -> str:
    for _ in range(10):
        ref = public_reference("RMD")
        if not RemedyCampaign.objects.filter(reference=ref).exists():
            return ref
    raise RuntimeError("could not allocate a remedy reference")  # pragma: no cover


# ---------------------------------------------------------------------------------------------- opening


def remedy_campaign_open(
    *,
    defect_kind: str,
    ref: Any,
    actor: Any,
    description: str,
    appeal: Appeal | None = None,
    rescore_version: SystemVersion | None = None,
) -> RemedyCampaign:
    """Open a remedy campaign for a defect (S30): find every decision it touched, list them (bulk), and
    queue the notices and re-scoring for after commit. Audited with counts only."""
    user = _require_reviewer(actor)
    text = (description or "").strip()
    if len(text) < MIN_TEXT:
        raise ValidationFailed(
            errors=[field_error("description", "required", "Say what is wrong, so others can check it.")]
        )
    defect = resolve_defect(defect_kind, ref)
    if appeal is not None:
        appeal = Appeal.objects.select_related("decision").get(pk=appeal.pk)
        if appeal.decision.system_id != defect.system.pk:
            raise ValidationFailed(
                errors=[field_error("appeal", "other-system", "The appeal is about another system.")]
            )
    target = _rescore_target(defect, rescore_version)
    exclude = [appeal.decision_id, appeal.resulting_decision_id] if appeal is not None else []
    now = clock.now()
    with transaction.atomic():
        campaign = RemedyCampaign.objects.create(
            reference=_fresh_reference(),
            system=defect.system,
            defect_kind=defect.kind,
            reason_code=defect.reason_code,
            feature_name=defect.feature_name,
            source=defect.source,
            version=defect.version,
            description=text,
            origin_appeal=appeal,
            rescore_version=target,
            opened_at=now,
            opened_by=user,
        )
        rows = list(affected_decisions(defect, exclude=exclude).values_list("pk", "version_id"))
        card_versions = set(
            SystemVersion.objects.filter(system_id=defect.system.pk, scorecard__isnull=False).values_list(
                "pk", flat=True
            )
        )

        def action(version_id: int) -> str:
            if target is not None and version_id in card_versions and version_id != target.pk:
                return RemedyItem.Action.RESCORE
            return RemedyItem.Action.REREVIEW

        RemedyItem.objects.bulk_create(
            [
                RemedyItem(
                    campaign=campaign,
                    decision_id=pk,
                    action=action(vid),
                    status=I.PENDING if action(vid) == RemedyItem.Action.RESCORE else I.QUEUED,
                )
                for pk, vid in rows
            ],
            batch_size=1000,
        )
        rescore = sum(1 for _pk, vid in rows if action(vid) == RemedyItem.Action.RESCORE)
        audit.record(
            actor=actor,
            action="remedy.campaign_opened",
            target=campaign,
            data={
                "campaign": campaign.reference,
                "system": defect.system.slug,
                "defect_kind": defect.kind,
                "defect": defect.label,
                "appeal": appeal.reference if appeal else None,
                "rescore_version": target.version if target else None,
                "items": len(rows),
                "rescore": rescore,
                "rereview": len(rows) - rescore,
            },
        )
        if not rows:
            _complete_if_done(campaign, actor)
        else:
            from oversight.controls_tasks import remedy_campaign_process as task

            pk = str(campaign.pk)
            transaction.on_commit(lambda: task.delay(pk), robust=True)
    campaign.refresh_from_db()
    return campaign


# ---------------------------------------------------------------------------------------------- processing


def remedy_campaign_process(*, campaign_id: Any, actor: Any = SYSTEM, batch: int = BATCH) -> dict[str, Any]:
    """Notify everyone not yet notified, re-score the items waiting to be, and complete the campaign if
    nothing is left. Safe to run again (and at the same time): each batch locks its items, notices are
    idempotent on their key, and a resolved item is never processed twice."""
    try:
        campaign = RemedyCampaign.objects.select_related("system", "rescore_version", "reason_code").get(
            pk=campaign_id
        )
    except (RemedyCampaign.DoesNotExist, ValueError, DjangoValidationError):
        raise NotFound("No such remedy campaign.") from None
    notified = _notify_opened(campaign, actor, batch)
    changed = unchanged = 0
    for item_id in list(
        RemedyItem.objects.filter(campaign=campaign, status=I.PENDING).values_list("pk", flat=True)
    ):
        result = _rescore_item(item_id, campaign, actor)
        changed += result == I.CHANGED
        unchanged += result == I.UNCHANGED
    _complete_if_done(campaign, actor)
    return {
        "notified": notified,
        "changed": changed,
        "unchanged": unchanged,
        **remedy_campaign_counts(campaign),
    }


def remedy_campaigns_resume(*, actor: Any = SYSTEM) -> int:
    """Process open campaigns that still have items to re-score (periodic: a lost task delays a campaign,
    never drops it). Notices a gate refused are not retried here (that would repeat the refusal every few
    minutes): the campaign page shows who was not told, and staff send them again once the cause is fixed."""
    ids = list(
        RemedyCampaign.objects.filter(status=RemedyCampaign.Status.OPEN)
        .filter(Exists(RemedyItem.objects.filter(campaign=OuterRef("pk"), status=I.PENDING)))
        .values_list("pk", flat=True)
    )
    for pk in ids:
        remedy_campaign_process(campaign_id=pk, actor=actor)
    return len(ids)


def _items_for_notice(qs: QuerySet[RemedyItem]) -> QuerySet[RemedyItem]:
    return qs.select_related(
        "decision__system", "decision__subject", "decision__subject__contact", "campaign__reason_code"
    )


def _notify_opened(campaign: RemedyCampaign, actor: Any, batch: int) -> int:
    notified, last = 0, 0
    while True:
        with transaction.atomic():
            items = list(
                _items_for_notice(
                    RemedyItem.objects.select_for_update(of=("self",)).filter(
                        campaign=campaign, notified_at__isnull=True, pk__gt=last
                    )
                ).order_by("pk")[:batch]
            )
            if not items:
                return notified
            last = items[-1].pk
            now = clock.now()
            done = [i for i in items if compose_remedy_notice(i, "remedy_opened", actor=actor)]
            RemedyItem.objects.filter(pk__in=[i.pk for i in done]).update(notified_at=now)
            notified += len(done)


def _lock_decision(pk: Any) -> Decision:
    return (
        Decision.objects.select_for_update(of=("self",))
        .select_related("system", "version", "subject", "outcome", "recorded_by")
        .get(pk=pk)
    )


def _moot_open_appeals(d: Decision, campaign: RemedyCampaign, actor: Any) -> None:
    from appeals import services as appeal_services

    for a in Appeal.objects.filter(decision=d, status__in=[s.value for s in OPEN_STATES]):
        appeal_services.appeal_moot(
            appeal=a,
            actor=actor,
            reason=f"The decision was replaced by remedy campaign {campaign.reference}.",
        )


def _client_for(d: Decision) -> Any:
    """The integrator that recorded ``d`` if it may still record for the system (else staff record it)."""
    client = d.recorded_by
    if client is None or not d.system.api_clients.filter(pk=client.pk).exists():
        return None
    return client


def _resolve(item: RemedyItem, status: str, *, actor: Any, note: str, new: Decision | None = None) -> None:
    item.status, item.note, item.new_decision = status, note[:2000], new
    item.resolved_at = clock.now()
    user = actor if isinstance(actor, User) else None
    item.resolved_by = user
    item.save(update_fields=["status", "note", "new_decision", "resolved_at", "resolved_by"])
    audit.record(
        actor=actor,
        action="remedy.item_resolved",
        target=item.campaign,
        data={
            "campaign": item.campaign.reference,
            "item": item.pk,
            "decision": str(item.decision_id),
            "subject": item.decision.subject.pseudonym,
            "action": item.action,
            "status": status,
            "new_decision": str(new.pk) if new else None,
        },
    )


def _to_person(item: RemedyItem, why: str, actor: Any) -> str:
    item.action, item.status = RemedyItem.Action.REREVIEW, I.QUEUED
    item.note = why[:2000]
    item.save(update_fields=["action", "status", "note"])
    audit.record(
        actor=actor,
        action="remedy.item_sent_to_person",
        target=item.campaign,
        data={"campaign": item.campaign.reference, "item": item.pk, "decision": str(item.decision_id)},
    )
    return I.QUEUED


def _rescore_item(item_id: int, campaign: RemedyCampaign, actor: Any) -> str:
    """Re-score one item under the campaign's corrected version. Returns the item's new status."""
    target = campaign.rescore_version
    with transaction.atomic():
        item = RemedyItem.objects.select_for_update(of=("self",)).select_related("campaign").get(pk=item_id)
        if item.status != I.PENDING:
            return item.status
        d = _lock_decision(item.decision_id)
        item.decision = d
        if d.status not in outcomes.LIVE_STATUSES:
            _resolve(item, I.MOOT, actor=actor, note=f"Already {d.get_status_display().lower()}.")
            return I.MOOT
        if target is None or not target.scorecard:  # pragma: no cover - items are rescore only with a target
            return _to_person(item, "No corrected scorecard to re-score with.", actor)
        values = {i.feature.name: i.value for i in d.inputs.select_related("feature")}
        try:
            result = scorecards.evaluate(target.scorecard, values)
        except scorecards.ScorecardError as exc:
            return _to_person(
                item, "The corrected scorecard cannot score it: " + "; ".join(exc.errors), actor
            )
        if result.outcome_code == d.outcome.code:
            _resolve(
                item,
                I.UNCHANGED,
                actor=actor,
                note=f"Re-scored under {target.version}: {result.outcome_code} stands "
                f"(score {d.score} -> {result.score}).",
            )
            compose_remedy_notice(item, "remedy_checked", actor=actor)
            return I.UNCHANGED
        data = outcomes.superseding_item(
            d,
            external_id=f"{d.external_id[: 199 - 4 - len(campaign.reference)]}/rmd-{campaign.reference}",
            outcome=result.outcome_code,
            keep_score=False,
        )
        data["system_version"] = target.version
        from decisions.services import decision_supersede

        try:
            with transaction.atomic():
                new = decision_supersede(decision=d, data=data, actor=actor, client=_client_for(d)).decision
        except ApplicationError as exc:
            return _to_person(item, f"The re-scored decision was refused: {exc.detail}", actor)
        assert new is not None  # noqa: S101 - decision_supersede returns the new decision or raises
        _moot_open_appeals(d, campaign, actor)
        _resolve(
            item,
            I.CHANGED,
            actor=actor,
            note=f"Re-scored under {target.version}: {d.outcome.code} -> {result.outcome_code}.",
            new=new,
        )
        _tell_integrator(d, new, campaign, actor)
    return I.CHANGED


def _tell_integrator(d: Decision, new: Decision, campaign: RemedyCampaign, actor: Any) -> None:
    if d.recorded_by_id is None or d.recorded_by is None:
        return
    from notifications.webhooks import webhook_emit

    webhook_emit(
        client=d.recorded_by,
        event_type="decision.remedied",
        payload={
            "type": "decision.remedied",
            "campaign": {"reference": campaign.reference, "defect_kind": campaign.defect_kind},
            "decision": {
                "id": str(d.pk),
                "external_id": d.external_id,
                "system": d.system.slug,
                "public_reference": d.public_reference,
                "outcome": d.outcome.code,
            },
            "new_decision": {
                "id": str(new.pk),
                "external_id": new.external_id,
                "public_reference": new.public_reference,
                "outcome": new.outcome.code,
                "adverse": new.adverse,
            },
        },
        actor=actor,
    )


# ---------------------------------------------------------------------------------------------- re-review


def _staff_ref(user: User | None) -> str:
    if user is None:
        return "system"
    return user.staff_ref or f"user:{user.pk}"


def remedy_item_resolve(*, item: RemedyItem | Any, actor: Any, note: str, outcome: str = "") -> RemedyItem:
    """A reviewer's result for an item waiting for re-review: the decision stands (``outcome`` empty or the
    same), or it changes to ``outcome`` (``decisions.outcomes.decision_reverse``: an overturn to a
    favourable outcome, a modification to another adverse one). The reviewer must not have taken part in
    the decision (S22). ``note`` is the reason, kept on the item (not in the audit log)."""
    user = _require_reviewer(actor)
    text = (note or "").strip()
    if len(text) < MIN_TEXT:
        raise ValidationFailed(errors=[field_error("note", "required", "Write the reasons for the result.")])
    with transaction.atomic():
        pk: Any = getattr(item, "pk", item)
        try:
            it = RemedyItem.objects.select_for_update(of=("self",)).select_related("campaign").get(pk=pk)
        except (RemedyItem.DoesNotExist, ValueError):
            raise NotFound("No such remedy item.") from None
        if it.status != I.QUEUED:
            raise TransitionNotAllowed(
                f"This item is {it.get_status_display().lower()}: there is nothing to re-review.",
                code="remedy-item-not-queued",
            )
        d = _lock_decision(it.decision_id)
        it.decision = d
        if (
            user is not None
            and user.staff_ref
            and HumanInvolvement.objects.filter(
                decision=d, by=user.staff_ref, kind__in=appeal_selectors.INVOLVED_KINDS
            ).exists()
        ):
            raise PermissionDenied(
                "You took part in this decision: another reviewer must re-review it (S22).",
                code="reviewer-not-independent",
            )
        if d.status not in outcomes.LIVE_STATUSES:
            _resolve(it, I.MOOT, actor=actor, note=f"Already {d.get_status_display().lower()}. {text}")
        elif not outcome or outcome == d.outcome.code:
            _resolve(it, I.UNCHANGED, actor=actor, note=text)
            compose_remedy_notice(it, "remedy_checked", actor=actor)
        else:
            chosen = d.version.outcomes.filter(code=outcome).first()
            if chosen is None:
                raise ValidationFailed(
                    errors=[
                        field_error("outcome", "unknown-outcome", "Choose one of the version's outcomes.")
                    ]
                )
            new = outcomes.decision_reverse(
                decision=d,
                outcome=outcome,
                modified=chosen.adverse,
                by=_staff_ref(user),
                actor=actor,
                reference=it.campaign.reference,
            )
            _moot_open_appeals(d, it.campaign, actor)
            _resolve(it, I.CHANGED, actor=actor, note=text, new=new)
        _complete_if_done(it.campaign, actor)
    it.refresh_from_db()
    return it


# ---------------------------------------------------------------------------------------------- tracking


def remedy_campaign_counts(campaign: RemedyCampaign) -> dict[str, int]:
    """Items by status (every status present, zero where none), and the total (one query)."""
    rows = dict(
        RemedyItem.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    counts = {s: int(rows.get(s, 0)) for s in I.values}
    counts["total"] = sum(counts[s] for s in I.values)
    counts["open"] = counts[I.PENDING] + counts[I.QUEUED]
    return counts


def _complete_if_done(campaign: RemedyCampaign, actor: Any) -> bool:
    with transaction.atomic():
        c = RemedyCampaign.objects.select_for_update().get(pk=campaign.pk)
        if c.status != RemedyCampaign.Status.OPEN:
            return False
        if RemedyItem.objects.filter(campaign=c, status__in=OPEN_ITEM_STATUSES).exists():
            return False
        c.status, c.completed_at = RemedyCampaign.Status.COMPLETED, clock.now()
        c.save(update_fields=["status", "completed_at"])
        counts = remedy_campaign_counts(c)
        audit.record(
            actor=actor,
            action="remedy.campaign_completed",
            target=c,
            data={"campaign": c.reference, "system": campaign.system.slug} | counts,
        )
    campaign.status, campaign.completed_at = c.status, c.completed_at
    return True


# ---------------------------------------------------------------------------------------------- notices

TEMPLATE_PREFIX = "oversight/controls/notices"
_CASE_ELEMENTS = ("case", "human_contact", "way_in", "rights")
NOTICE_ELEMENTS: dict[str, tuple[str, ...]] = {
    "remedy_opened": ("what_happened", "what_we_do", "no_action_needed", *_CASE_ELEMENTS),
    "remedy_checked": ("result", *_CASE_ELEMENTS),
}
NOTICE_VERSION = 1

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "reason_code": "We found a mistake in one of the reasons we give for decisions like yours. "
        "Your decision gave this reason: {reason}",
        "data_source": "We found a mistake in some facts we used for decisions like yours. "
        "The facts came from: {source}.",
        "version": "We found a mistake in the computer system that made decisions like yours "
        "(version {version}).",
        "rescore": "We will work out your decision again with the mistake put right.",
        "rereview": "A person will look at your decision again.",
        "no_action_needed": "You do not need to do anything. We will write to you again when we have "
        "checked it.",
        "rights": "You can still appeal. You can still ask us to explain the decision, and ask to see or "
        "correct the facts we used. It is free.",
        "result_rescore": "We worked out your decision again with the mistake put right. The result is the "
        "same, so the decision stays as it was.",
        "result_rereview": "A person looked at your decision again. The result is the same, so the decision "
        "stays as it was.",
    },
    "es": {
        "reason_code": "Encontramos un error en uno de los motivos que damos en decisiones como la suya. "
        "Su decisión dio este motivo: {reason}",
        "data_source": "Encontramos un error en algunos datos que usamos en decisiones como la suya. "
        "Los datos venían de: {source}.",
        "version": "Encontramos un error en el sistema informático que tomó decisiones como la suya "
        "(versión {version}).",
        "rescore": "Vamos a calcular otra vez su decisión con el error corregido.",
        "rereview": "Una persona va a revisar otra vez su decisión.",
        "no_action_needed": "No tiene que hacer nada. Le escribiremos de nuevo cuando la hayamos revisado.",
        "rights": "Puede seguir recurriendo. También puede pedirnos que le expliquemos la decisión y pedir "
        "ver o corregir los datos que usamos. Es gratis.",
        "result_rescore": "Calculamos otra vez su decisión con el error corregido. El resultado es el mismo, "
        "así que la decisión no cambia.",
        "result_rereview": "Una persona revisó otra vez su decisión. El resultado es el mismo, así que la "
        "decisión no cambia.",
    },
}


def _check_case(v: Any) -> bool:
    return isinstance(v, dict) and all(
        decision_notices._text(v.get(k)) for k in ("reference", "decision_reference", "organisation")
    )


def _check_way_in(v: Any) -> bool:
    return isinstance(v, dict) and all(
        decision_notices._text(v.get(k)) for k in ("link", "portal", "reference")
    )


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "case": _check_case,
    "way_in": _check_way_in,
    "human_contact": decision_notices._check_contact,
}


def missing_elements(elements: Mapping[str, Any], template_key: str) -> list[str]:
    """The completeness gate for remedy notices, on data: every required element present and usable."""
    return [
        name
        for name in NOTICE_ELEMENTS[template_key]
        if not _CHECKS.get(name, decision_notices._text)(elements.get(name))
    ]


def _expected(name: str, value: Any) -> list[str]:
    if name == "case":
        return [value["reference"], value["decision_reference"]]
    if name == "way_in":
        return [value["link"], value["reference"]]
    if name == "human_contact":
        return [x for x in (value.get("name"), value.get("email"), value.get("phone")) if x]
    return [str(value)]


def template_file(template_key: str, language: str, part: str) -> str:
    return f"{TEMPLATE_PREFIX}/{template_key}.{language}.{part}"


def render_remedy_notice(template_key: str, language: str, elements: Mapping[str, Any]) -> RenderedNotice:
    """Subject, text and HTML; refuses (NoticeIncomplete) a notice that lacks an element or drops one."""
    missing = missing_elements(elements, template_key)
    if missing:
        raise NoticeIncomplete(missing, template_key=template_key)
    lang = language_for(language)
    engine = engines["django"]
    ctx = {"e": dict(elements)}
    subject = decision_notices._flat(
        engine.get_template(template_file(template_key, lang, "subject.txt")).render(ctx)
    )
    text = engine.get_template(template_file(template_key, lang, "txt")).render(ctx)
    text = "\n".join(line.rstrip() for line in text.splitlines())
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    body_text = text.strip() + "\n"
    body_html = engine.get_template(template_file(template_key, lang, "html")).render(ctx)
    rendered = RenderedNotice(template_key, NOTICE_VERSION, lang, subject, body_text, body_html)
    flat_text, flat_html = decision_notices._flat(body_text), decision_notices._html_text(body_html)
    dropped = [
        name
        for name in NOTICE_ELEMENTS[template_key]
        if any(
            decision_notices._flat(s) not in flat_text or decision_notices._flat(s) not in flat_html
            for s in _expected(name, elements[name])
        )
    ]
    if dropped:
        raise NoticeIncomplete(dropped, template_key=template_key)
    return rendered


def _what_happened(campaign: RemedyCampaign, lang: str) -> str:
    p = PHRASES[lang]
    if campaign.defect_kind == DefectKind.REASON_CODE and campaign.reason_code is not None:
        return p["reason_code"].format(reason=localized(campaign.reason_code.text, lang))
    if campaign.defect_kind == DefectKind.DATA_SOURCE:
        return p["data_source"].format(source=campaign.source)
    version = campaign.version.version if campaign.version else ""
    return p["version"].format(version=version)


def remedy_notice_elements(item: RemedyItem, template_key: str, lang: str) -> dict[str, Any]:
    """The structured content of a remedy notice about ``item``, in ``lang`` (data, not text)."""
    d, campaign = item.decision, item.campaign
    system = d.system
    p = PHRASES[lang]
    e: dict[str, Any] = {
        "case": {
            "reference": campaign.reference,
            "decision_reference": d.public_reference,
            "organisation": system.owner_organisation,
        },
        "human_contact": {
            "name": system.review_contact_name,
            "email": system.review_contact_email,
            "phone": system.review_contact_phone,
        },
        "way_in": {
            "link": access.decision_link_url(d.pk, valid_days=access.link_validity_days(system)),
            "portal": f"{settings.SITE_URL}/portal/",
            "reference": d.public_reference,
        },
        "rights": p["rights"],
    }
    if template_key == "remedy_opened":
        e["what_happened"] = _what_happened(campaign, lang)
        e["what_we_do"] = p[item.action]
        e["no_action_needed"] = p["no_action_needed"]
    else:
        e["result"] = p[f"result_{item.action}"]
    return e


def _email(d: Decision) -> str:
    try:
        return (d.subject.contact.email or "").strip()
    except SubjectContact.DoesNotExist:
        return ""


def compose_remedy_notice(item: RemedyItem, template_key: str, *, actor: Any) -> list[Notice]:
    """Write the notice about ``item`` to the outbox (portal inbox, and email when an address is known), in
    the caller's transaction. An incomplete notice writes nothing: ``remedy.notice_blocked`` says why."""
    from notifications.services import NoticeSpec, notice_create_many

    d = item.decision
    lang = language_for(d.subject.language)
    try:
        rendered = render_remedy_notice(template_key, lang, remedy_notice_elements(item, template_key, lang))
    except NoticeIncomplete as exc:
        audit.record(
            actor=actor,
            action="remedy.notice_blocked",
            target=item.campaign,
            data={
                "campaign": item.campaign.reference,
                "item": item.pk,
                "template": f"{TEMPLATE_PREFIX}/{template_key}@{NOTICE_VERSION}",
                "language": lang,
                "missing": exc.missing,
                "subject": d.subject.pseudonym,
            },
        )
        return []
    channels = [("portal", "")]
    email = _email(d)
    if email:
        channels.append(("email", email))
    specs = [
        NoticeSpec(
            kind=REMEDY_NOTICE_KIND,
            topic_type=RemedyItem._meta.label_lower,
            topic_id=str(item.pk),
            recipient=d.subject.pseudonym,
            channel=channel,
            language=lang,
            to_address=address,
            subject=rendered.subject,
            body_text=rendered.body_text,
            body_html=rendered.body_html,
            template_key=f"{TEMPLATE_PREFIX}/{template_key}",
            template_version=str(NOTICE_VERSION),
            due_at=clock.now() + dt.timedelta(days=d.system.notice_due_days),
            dedupe_key=f"remedy:{item.pk}:{template_key}:{channel}",
        )
        for channel, address in channels
    ]
    return list(notice_create_many(specs=specs, actor=actor))


def specimen_elements(template_key: str, lang: str) -> dict[str, Any]:
    """A complete element dict with realistic content (no database): for readability and layout checks."""
    p = PHRASES[lang]
    e: dict[str, Any] = {
        "case": {"reference": "RMD-7K3M-Q9XP", "decision_reference": "CRD-4F7K-Q2MX", "organisation": "Bank"},
        "human_contact": {"name": "Review team", "email": "review@bank.example", "phone": "0800 123 456"},
        "way_in": {
            "link": "https://contestable.example/portal/open/TOKEN",
            "portal": "https://contestable.example/portal/",
            "reference": "CRD-4F7K-Q2MX",
        },
        "rights": p["rights"],
    }
    if template_key == "remedy_opened":
        e["what_happened"] = p["data_source"].format(source="Credit bureau")
        e["what_we_do"] = p["rescore"]
        e["no_action_needed"] = p["no_action_needed"]
    else:
        e["result"] = p["result_rereview"]
    return e
