"""What contesting a decision does to the decision record (S18, S19, S27).

``appeals`` (floor 4) calls these; ``decisions`` never imports ``appeals``, so callers pass the appeal's or
dispute's public reference as plain text for the audit trail and the integrator's webhook. Every function
locks the decision, checks its status, writes the audit event and tells the integrator (signed webhook,
delivered after commit) in the caller's transaction. A recorded decision is never edited (S5): reversing,
modifying or correcting it records a new decision that supersedes it
(``decisions.services.decision_supersede``).

Stay of effect (S18)
    ``decision_stay`` suspends an adverse decision that is pending notice or in effect: status ``stayed``
    (``decisions.effects`` leaves a stayed decision alone, so a notice delivered meanwhile starts nothing).
    ``decision_stay_lift`` restores the status it had; a decision that was pending notice and whose notice
    was delivered while stayed starts its effect then, from the delivery time (the notice period still
    counts from delivery).

Outcome of an appeal (S27)
    ``decision_reverse`` records the reviewer's outcome as a superseding decision taken by a person (a
    ``decision`` human-involvement event, S7): an overturn gives a non-adverse outcome and marks the
    original ``reversed``; a modification gives another outcome and leaves the original ``superseded``.
    The integrator gets ``decision.reversed`` or ``decision.modified`` with the remedy owed.

Data corrections (S19)
    ``decision_input_mark_disputed`` flags an input while it is disputed. ``decisions_using_value`` finds
    every live decision about the same person that used the same value. ``decision_rescore`` re-scores a
    built-in scorecard decision with the corrected value at once and supersedes it when the outcome
    changes; ``decision_redecide_request`` asks the integrator of any other system to decide again
    (``decision.redecide_requested``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from core import audit
from core.errors import TransitionNotAllowed, ValidationFailed, field_error
from decisions.models import Decision, DecisionInput, HumanInvolvement, Outcome

S = Decision.Status
#: Decisions still standing: contesting them can change something.
LIVE_STATUSES: frozenset[str] = frozenset({S.PENDING_NOTICE, S.AWAITING_HUMAN, S.EFFECTIVE, S.STAYED})
STAYABLE_STATUSES: frozenset[str] = frozenset({S.PENDING_NOTICE, S.EFFECTIVE})
DECISION_TOPIC = "decisions.decision"


# ------------------------------------------------------------------------------------------ helpers


def _lock(decision: Decision | Any) -> Decision:
    pk: Any = getattr(decision, "pk", decision)
    return (
        Decision.objects.select_for_update(of=("self",))
        .select_related("system", "version", "subject", "outcome", "recorded_by")
        .get(pk=pk)
    )


def _webhook_decision(d: Decision) -> dict[str, Any]:
    return {
        "id": str(d.pk),
        "external_id": d.external_id,
        "system": d.system.slug,
        "public_reference": d.public_reference,
        "status": d.status,
        "outcome": d.outcome.code,
        "adverse": d.adverse,
    }


def _tell_integrator(d: Decision, event_type: str, extra: Mapping[str, Any], actor: Any) -> None:
    """A signed webhook to the integrator that recorded ``d`` (none when staff recorded it)."""
    if d.recorded_by_id is None or d.recorded_by is None:
        return
    from notifications.webhooks import webhook_emit

    webhook_emit(
        client=d.recorded_by,
        event_type=event_type,
        payload={"type": event_type, "decision": _webhook_decision(d), **extra},
        actor=actor,
    )


def _audit(d: Decision, action: str, actor: Any, data: Mapping[str, Any]) -> None:
    audit.record(
        actor=actor,
        action=action,
        target=d,
        data={"decision": str(d.pk), "public_reference": d.public_reference, "subject": d.subject.pseudonym}
        | dict(data),
    )


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value


# ------------------------------------------------------------------------------------------ stay (S18)


def decision_stay(*, decision: Decision | Any, actor: Any, reference: str, reason: str = "") -> str:
    """Suspend an adverse decision's effect while it is contested. Returns the status it had (to restore).

    Refuses (409) a decision that is not adverse or not pending notice / in effect (already stayed,
    reversed, superseded, or waiting for a human)."""
    with transaction.atomic():
        d = _lock(decision)
        if not d.adverse or d.status not in STAYABLE_STATUSES:
            raise TransitionNotAllowed(
                f"The decision {d.public_reference} is {d.get_status_display().lower()}: "
                "there is no adverse effect to suspend.",
                code="decision-not-stayable",
            )
        previous = d.status
        d.status = S.STAYED
        d.save(update_fields=["status"])
        _audit(d, "decision.stayed", actor, {"from": previous, "by": reference, "reason": reason[:500]})
        _tell_integrator(d, "decision.stayed", {"reference": reference, "previous_status": previous}, actor)
    return previous


def decision_stay_lift(
    *, decision: Decision | Any, previous_status: str, actor: Any, reference: str, reason: str = ""
) -> Decision:
    """End a stay: the decision goes back to ``previous_status`` (pending notice or in effect).

    A no-op on a decision that is no longer stayed (reversed or superseded meanwhile). A decision pending
    notice whose notice was delivered during the stay starts its effect now (``decisions.effects``)."""
    if previous_status not in STAYABLE_STATUSES:
        raise ValidationFailed(
            "A stay ends by going back to pending notice or in effect.",
            errors=[field_error("previous_status", "invalid", "pending_notice or effective")],
        )
    with transaction.atomic():
        d = _lock(decision)
        if d.status != S.STAYED:
            return d
        d.status = previous_status
        d.save(update_fields=["status"])
        _audit(
            d, "decision.stay_lifted", actor, {"to": previous_status, "by": reference, "reason": reason[:500]}
        )
        _tell_integrator(d, "decision.stay_lifted", {"reference": reference}, actor)
        if previous_status == S.PENDING_NOTICE and d.effective_at is None:
            delivered = _first_delivery(d)
            if delivered is not None:
                from decisions.effects import decision_effect_start

                decision_effect_start(decision_id=d.pk, delivered_at=delivered, actor=actor)
                d.refresh_from_db()
    return d


def _first_delivery(d: Decision) -> datetime | None:
    from notifications.models import Notice

    return (
        Notice.objects.filter(
            topic_type=DECISION_TOPIC,
            topic_id=str(d.pk),
            kind=Notice.Kind.DECISION,
            status=Notice.Status.DELIVERED,
        )
        .order_by("delivered_at")
        .values_list("delivered_at", flat=True)
        .first()
    )


# ------------------------------------------------------------------------------------------ superseding


def superseding_item(
    d: Decision,
    *,
    external_id: str,
    outcome: str,
    human: Iterable[Mapping[str, Any]] = (),
    corrections: Mapping[str, Any] | None = None,
    keep_score: bool = True,
) -> dict[str, Any]:
    """A decision item (the API contract) that restates ``d`` with another outcome and/or corrected inputs.

    Reasons and counterfactuals are carried over only for an adverse new outcome (a non-adverse decision
    has none). With ``keep_score=False`` (and on a scorecard version) the card fills score, reasons and
    counterfactual from the inputs. Human detection events of the original are kept (S7); other human
    steps belonged to the original decision and are replaced by ``human``.
    """
    corrections = dict(corrections or {})
    new_outcome = d.version.outcomes.filter(code=outcome).first() if outcome else None
    adverse = bool(new_outcome and new_outcome.adverse)
    carried = adverse and keep_score
    inputs = [
        {
            "feature": i.feature.name,
            "value": corrections.get(i.feature.name, i.value),
            "source": i.source,
            "as_of": i.as_of,
        }
        for i in d.inputs.select_related("feature").order_by("feature__name")
    ]
    involvement = [
        {"kind": h.kind, "by": h.by, "at": h.at}
        for h in d.human_involvement.filter(kind=HumanInvolvement.Kind.DETECTION)
    ]
    involvement += [dict(h) for h in human]
    return {
        "system": d.system.slug,
        "system_version": d.version.version,
        "external_id": external_id[:200],
        "subject": {"external_ref": d.subject.external_ref, "language": d.subject.language},
        "outcome": outcome,
        "score": d.score if keep_score else None,
        "inputs": inputs,
        "reasons": (
            [
                {"code": r.reason_code.code, "feature": r.feature.name, "weight": r.weight}
                for r in d.reasons.select_related("reason_code", "feature").order_by("rank")
            ]
            if carried
            else []
        ),
        "counterfactuals": list(d.counterfactuals or []) if carried else [],
        "human_involvement": involvement,
        "decided_at": timezone.now(),
    }


def _derived_external_id(d: Decision, suffix: str) -> str:
    return f"{d.external_id[: 199 - len(suffix)]}/{suffix}"


def _scoped_client(d: Decision) -> Any:
    """The integrator that recorded ``d``, if it may still record for the system (else staff record it)."""
    client = d.recorded_by
    if client is None or not d.system.api_clients.filter(pk=client.pk).exists():
        return None
    return client


def _supersede(d: Decision, item: dict[str, Any], actor: Any) -> Decision:
    from decisions.services import decision_supersede

    result = decision_supersede(decision=d, data=item, actor=actor, client=_scoped_client(d))
    if result.decision is None:  # pragma: no cover - decision_supersede raises instead
        raise TransitionNotAllowed("The decision could not be superseded.")
    return result.decision


# ------------------------------------------------------------------------------------------ outcome (S27)

REMEDIES = ("reinstatement", "refund", "correction", "expunged_flag")


def decision_reverse(
    *,
    decision: Decision | Any,
    outcome: str,
    modified: bool,
    by: str,
    actor: Any,
    reference: str,
    remedy: Iterable[str] = (),
) -> Decision:
    """Carry an appeal's overturn or modification into the record: a superseding decision with
    ``outcome``, taken by the reviewer ``by`` (their staff reference). Returns the new decision.

    Overturn (``modified=False``): ``outcome`` must be non-adverse; the original becomes ``reversed``.
    Modification: ``outcome`` must differ from the original's; the original stays ``superseded``.
    The integrator is told (``decision.reversed`` / ``decision.modified``) with the remedy owed (S27)."""
    remedy = [r for r in remedy]
    unknown = sorted(set(remedy) - set(REMEDIES))
    if unknown:
        raise ValidationFailed(
            "Unknown remedy.", errors=[field_error("remedy", "invalid", f"One of: {', '.join(REMEDIES)}.")]
        )
    if not (by or "").strip():
        raise ValidationFailed(errors=[field_error("by", "required", "Who decided (staff reference).")])
    with transaction.atomic():
        d = _lock(decision)
        if d.status not in LIVE_STATUSES:
            raise TransitionNotAllowed(
                f"The decision {d.public_reference} is {d.get_status_display().lower()}: "
                "it cannot be changed.",
                code="decision-not-live",
            )
        target: Outcome | None = d.version.outcomes.filter(code=outcome).first()
        if target is None:
            raise ValidationFailed(
                f"'{outcome}' is not an outcome of {d.version}.",
                errors=[field_error("outcome", "unknown-outcome", "Choose an outcome of this version.")],
            )
        if not modified and target.adverse:
            raise ValidationFailed(
                "An overturn replaces the decision with an outcome that is not adverse.",
                errors=[field_error("outcome", "adverse-outcome", "Choose an outcome that is not adverse.")],
            )
        if modified and target.pk == d.outcome_id:
            raise ValidationFailed(
                "A modification changes the outcome.",
                errors=[field_error("outcome", "same-outcome", "Choose a different outcome, or uphold.")],
            )
        previous = d.status
        item = superseding_item(
            d,
            external_id=_derived_external_id(d, f"appeal-{reference}"),
            outcome=target.code,
            human=[{"kind": HumanInvolvement.Kind.DECISION, "by": by.strip()[:120], "at": timezone.now()}],
        )
        new = _supersede(d, item, actor)
        d.refresh_from_db(fields=["status"])
        event = "decision.modified" if modified else "decision.reversed"
        if not modified:
            d.status = S.REVERSED
            d.save(update_fields=["status"])
        _audit(
            d,
            event,
            actor,
            {
                "from": previous,
                "by": reference,
                "new_decision": str(new.pk),
                "new_outcome": target.code,
                "remedy": remedy,
            },
        )
        _tell_integrator(
            d,
            event,
            {
                "reference": reference,
                "new_decision": {
                    "id": str(new.pk),
                    "external_id": new.external_id,
                    "public_reference": new.public_reference,
                    "outcome": target.code,
                    "adverse": target.adverse,
                },
                "remedy": remedy,
            },
            actor,
        )
    return new


# ------------------------------------------------------------------------------------------ data (S19)


def decision_input_mark_disputed(
    *, decision_input: DecisionInput | Any, disputed: bool, actor: Any, reference: str
) -> DecisionInput:
    """Flag (or unflag) an input value as disputed; the explanation and portal show the flag."""
    with transaction.atomic():
        pk: Any = getattr(decision_input, "pk", decision_input)
        row = DecisionInput.objects.select_for_update().select_related("decision", "feature").get(pk=pk)
        if row.disputed == disputed:
            return row
        row.disputed = disputed
        row.save(update_fields=["disputed"])
        d = Decision.objects.select_related("subject").get(pk=row.decision_id)
        _audit(
            d,
            "decision.input_disputed" if disputed else "decision.input_dispute_closed",
            actor,
            {"feature": row.feature.name, "by": reference},
        )
    return row


def decisions_using_value(decision_input: DecisionInput) -> list[DecisionInput]:
    """Every live decision's input about the same person with the same feature name and value (S19)."""
    d = decision_input.decision
    name = decision_input.feature.name
    candidates = (
        DecisionInput.objects.filter(
            decision__subject_id=d.subject_id, feature__name=name, decision__status__in=LIVE_STATUSES
        )
        .select_related("decision", "feature")
        .order_by("decision__recorded_at", "decision_id")
    )
    return [row for row in candidates if row.value == decision_input.value]


@dataclass(frozen=True)
class Rescore:
    """What re-scoring one decision with a corrected value gave."""

    decision: Decision
    old_outcome: str
    new_outcome: str
    old_score: Decimal | None
    new_score: Decimal | None
    new_decision: Decision | None  # set when the outcome changed and the decision was superseded

    @property
    def changed(self) -> bool:
        return self.new_decision is not None


def decision_rescore(
    *, decision: Decision | Any, corrections: Mapping[str, Any], actor: Any, reference: str
) -> Rescore:
    """Re-score a built-in scorecard decision with corrected inputs (S9, S19), at once.

    When the outcome changes the decision is superseded by the re-scored one (the card fills score, reasons
    and counterfactual; a new adverse outcome at impact III-IV waits for a human, S2). When it does not,
    the record stands and the re-score is audited. The integrator hears ``decision.data_corrected`` either
    way. Raises ValidationFailed for a decision whose version has no scorecard."""
    from decisions import scorecards

    with transaction.atomic():
        d = _lock(decision)
        if not d.version.scorecard:
            raise ValidationFailed(
                "This decision was not scored by a built-in scorecard.", code="no-scorecard"
            )
        if d.status not in LIVE_STATUSES:
            raise TransitionNotAllowed(
                f"The decision {d.public_reference} is {d.get_status_display().lower()}.",
                code="decision-not-live",
            )
        values = {i.feature.name: i.value for i in d.inputs.select_related("feature")}
        values.update(corrections)
        try:
            result = scorecards.evaluate(d.version.scorecard, values)
        except scorecards.ScorecardError as exc:
            raise ValidationFailed(
                "The corrected value cannot be scored: " + "; ".join(exc.errors),
                errors=[field_error("corrected_value", "scorecard-failed", e) for e in exc.errors],
            ) from exc
        new = None
        if result.outcome_code != d.outcome.code:
            item = superseding_item(
                d,
                external_id=_derived_external_id(d, f"correction-{reference}"),
                outcome=result.outcome_code,
                corrections=corrections,
                keep_score=False,
            )
            new = _supersede(d, item, actor)
        rescore = Rescore(
            decision=d,
            old_outcome=d.outcome.code,
            new_outcome=result.outcome_code,
            old_score=d.score,
            new_score=result.score,
            new_decision=new,
        )
        _audit(
            d,
            "decision.rescored",
            actor,
            {
                "by": reference,
                "features": sorted(corrections),
                "old_outcome": rescore.old_outcome,
                "new_outcome": rescore.new_outcome,
                "old_score": _json(rescore.old_score),
                "new_score": _json(rescore.new_score),
                "new_decision": str(new.pk) if new else None,
            },
        )
        _tell_integrator(
            d,
            "decision.data_corrected",
            {
                "reference": reference,
                "corrections": {k: _json(v) for k, v in corrections.items()},
                "rescored": {"outcome": result.outcome_code, "score": _json(result.score)},
                "new_decision": (
                    {
                        "id": str(new.pk),
                        "external_id": new.external_id,
                        "public_reference": new.public_reference,
                    }
                    if new
                    else None
                ),
            },
            actor,
        )
    return rescore


def decision_redecide_request(
    *, decision: Decision | Any, corrections: Mapping[str, Any], actor: Any, reference: str
) -> Decision:
    """Ask the integrator to decide again with corrected inputs (systems that score outside Contestable).

    The record stands until the integrator supersedes it (``POST /api/v1/decisions/{id}/supersede/``)."""
    with transaction.atomic():
        d = _lock(decision)
        _audit(d, "decision.redecide_requested", actor, {"by": reference, "features": sorted(corrections)})
        _tell_integrator(
            d,
            "decision.redecide_requested",
            {"reference": reference, "corrections": {k: _json(v) for k, v in corrections.items()}},
            actor,
        )
    return d
