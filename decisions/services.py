"""Every write in ``decisions``: systems, versions, assessments, and the decision record (S1-S9).

Services take keyword arguments and an ``actor``, own their transaction, write the audit event through
``core.audit`` and raise ``core.errors.ApplicationError`` subclasses (the API turns them into problem
details; the admin into error messages).

Recording decisions
-------------------
``decision_record_many`` is the one path: ``decision_record`` is a batch of one, ``decision_supersede`` a
batch of one that links to the decision it corrects. A batch costs a constant number of statements whatever
its size (on PostgreSQL; SQLite splits inserts every 999 parameters):

1. load the systems, the caller's scope, the versions with their features, reason codes and outcomes, and the
   decisions already recorded under the batch's external ids (one query each);
2. check every item in Python (S1, S3, S6, S7 and the contract), each item on its own: a refused item gets
   its own problem and writes nothing;
3. insert the accepted items with ``bulk_create``: subjects (and their contact data, kept apart), decisions
   (ids generated in Python), inputs, reasons, human involvement, explanations, one audit event each
   (``core.audit.record_many``), then compose their notices in the same transaction.

Choices made here (documented so that integrators and reviewers can rely on them):

- Reasons must already be ordered by weight: a list whose absolute weights rise is refused
  (``reasons-not-ordered``) rather than silently sorted, because the order is what the person reads and an
  integrator whose ranking disagrees with its own weights has a bug worth surfacing. Weights are optional,
  but all-or-none within one decision; without weights the given order is the rank.
- A reason's ``feature`` may be omitted: it defaults to the reason code's own feature.
- Idempotency by (system, external_id): the identical item (same canonical payload hash) returns the
  recorded decision with ``created=False``; a different item under a used external id is a 409 conflict.
  A replay is answered even if the system was suspended since: it records nothing new.
- A *suspended* system (the stop switch, S29) still records decisions, but every new adverse outcome waits
  for a human (``awaiting_human``), as at impact levels III-IV (S2). A *draft* system records nothing.
- Decisions awaiting a human get their notice when the human confirms them (``decision_human_confirm``):
  the person is told the final decision, not a proposal.
- ``decided_at`` may be at most two minutes ahead of the server clock (clock skew), never more.
- The portal access code (``decisions.access``: 8 Crockford characters, stored only as an HMAC bound to the
  public reference) is made here; its plaintext is in the ``ItemResult`` and handed to the notice composer,
  never stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core import audit, bulk, clock
from core.actors import as_actor
from core.errors import (
    ApplicationError,
    Conflict,
    PermissionDenied,
    TransitionNotAllowed,
    ValidationFailed,
    field_error,
)
from core.ids import pseudonym, public_reference, uuid7
from core.models import ApiClient
from decisions import access, policy
from decisions.models import (
    Decision,
    DecisionInput,
    DecisionReason,
    DecisionSystem,
    Domain,
    Explanation,
    Feature,
    HumanInvolvement,
    ImpactAssessment,
    Outcome,
    PeerReview,
    ReasonCode,
    Subject,
    SubjectContact,
    SystemVersion,
)

log = logging.getLogger(__name__)

MAX_BATCH = 1000
FUTURE_SKEW = timedelta(minutes=2)
REQUIRED_LANGUAGES = ("en", "es")
MIN_CONTENT_APPEAL_WINDOW_DAYS = 183  # DSA Art. 20(1): at least six months


# ---------------------------------------------------------------------------------------------- errors


class GoLiveRefused(ApplicationError):
    code = "go-live-refused"
    status = 422
    title = "The system cannot go live yet"


class SystemNotInScope(PermissionDenied):
    code = "system-not-in-scope"
    title = "This API key may not record decisions for this system"


class ExternalIdConflict(Conflict):
    code = "external-id-conflict"
    title = "This external id was already used for a different decision"


class BatchTooLarge(ValidationFailed):
    code = "batch-too-large"
    title = "Too many decisions in one batch"


class VersionInUse(Conflict):
    code = "version-in-use"
    title = "Decisions were recorded under this version: publish a new version instead"


class RetryLater(ApplicationError):
    """A rare transient clash (a pseudonym or reference drawn again and again). 503: nothing was stored and
    the Idempotency-Key is given back, so the same request can simply be retried."""

    code = "retry-later"
    status = 503
    title = "Try again in a moment"


class DecisionRefused(ValidationFailed):
    code = "decision-refused"
    title = "The decision was refused"


# ---------------------------------------------------------------------------------------------- helpers


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _refuse(
    errors: list[dict[str, Any]], cls: type[ApplicationError] = ValidationFailed, detail: str = ""
) -> None:
    if errors:
        raise cls(detail or "; ".join(e["message"] for e in errors[:3]), errors=errors)


def _texts_missing(texts: Any, path: str) -> list[dict[str, Any]]:
    """Field errors for each required language a ``{"en": ..., "es": ...}`` dict lacks."""
    if not isinstance(texts, dict):
        return [field_error(path, "required", "Give the text in English and Spanish.")]
    return [
        field_error(f"{path}.{lang}", "required", f"Give the text in '{lang}'.")
        for lang in REQUIRED_LANGUAGES
        if not str(texts.get(lang) or "").strip()
    ]


# ---------------------------------------------------------------------------------------------- systems

SYSTEM_CREATE_FIELDS = frozenset(
    {
        "slug",
        "name",
        "owner_organisation",
        "review_contact_name",
        "review_contact_email",
        "review_contact_phone",
        "purpose",
        "legal_basis",
        "domain",
        "impact_level",
        "public_explanation",
    }
)

#: What ``system_update_policy`` may change. The domain and slug never change (decisions and references
#: depend on them); the impact level changes only through an impact assessment.
POLICY_FIELDS = frozenset(
    {
        "name",
        "owner_organisation",
        "review_contact_name",
        "review_contact_email",
        "review_contact_phone",
        "purpose",
        "legal_basis",
        "public_explanation",
        "time_zone",
        "appeal_window_days",
        "notice_due_days",
        "notice_period_days",
        "stay_on_appeal",
        "blind_review",
        "four_eyes",
        "review_due_days",
        "oral_hearing_allowed",
        "stop_switch_overturn_rate",
        "stop_switch_min_sample",
        "retention_days",
        "external_routes",
    }
)

#: Staff contact details: their change is audited, their values are not copied into the log.
_REDACTED_IN_AUDIT = frozenset({"review_contact_name", "review_contact_email", "review_contact_phone"})


def system_fields_problems(system: DecisionSystem, values: dict[str, Any]) -> list[dict[str, Any]]:
    """Field errors for system settings: model-field validation plus the policy rules (time zone, DSA
    appeal window, rates). Cleans ``values`` in place. Used by the services and by the admin's forms."""
    errors: list[dict[str, Any]] = []
    for name, value in values.items():
        model_field = system._meta.get_field(name)
        try:
            values[name] = model_field.clean(value, system)  # type: ignore[union-attr]
        except ValidationError as exc:
            blank = any(e.code in ("blank", "null") for e in exc.error_list)
            errors.append(field_error(name, "required" if blank else "invalid", " ".join(exc.messages)))
    if errors:
        return errors
    if "time_zone" in values:
        try:
            zoneinfo.ZoneInfo(values["time_zone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors.append(field_error("time_zone", "invalid", "Not a known time zone."))
    domain = values.get("domain", system.domain)
    window = values.get("appeal_window_days", system.appeal_window_days)
    if domain == Domain.CONTENT_MODERATION and window < MIN_CONTENT_APPEAL_WINDOW_DAYS:
        errors.append(
            field_error(
                "appeal_window_days",
                "window-too-short",
                f"Content moderation systems must allow at least {MIN_CONTENT_APPEAL_WINDOW_DAYS} days "
                "to appeal (DSA Art. 20(1)).",
            )
        )
    rate = values.get("stop_switch_overturn_rate")
    if rate is not None and not (0 < rate <= 1):
        errors.append(field_error("stop_switch_overturn_rate", "invalid", "A rate between 0 and 1."))
    routes = values.get("external_routes")
    if routes is not None and (
        not isinstance(routes, list) or not all(isinstance(r, dict) and r.get("name") for r in routes)
    ):
        errors.append(field_error("external_routes", "invalid", 'A list of {"kind", "name", "url"} objects.'))
    return errors


def system_create(*, actor: Any, api_clients: Iterable[ApiClient] = (), **fields: Any) -> DecisionSystem:
    """Register a decision system in draft (S1). It decides about nobody until ``system_go_live``."""
    unknown = set(fields) - SYSTEM_CREATE_FIELDS - POLICY_FIELDS
    _refuse([field_error(name, "unknown-field", "Not a system field.") for name in sorted(unknown)])
    missing = [n for n in ("slug", "name", "domain", "impact_level") if fields.get(n) in (None, "")]
    _refuse([field_error(n, "required", "This field is required.") for n in missing])
    system = DecisionSystem(status=DecisionSystem.Status.DRAFT)
    values = dict(fields)
    for name in SYSTEM_CREATE_FIELDS:
        values.setdefault(name, getattr(system, name, "") or "")
    _refuse(system_fields_problems(system, values))
    for name, value in values.items():
        setattr(system, name, value)
    with transaction.atomic():
        if DecisionSystem.objects.filter(slug=system.slug).exists():
            raise Conflict(
                "A system with this slug exists.",
                code="slug-taken",
                errors=[field_error("slug", "taken", "A system with this slug exists.")],
            )
        system.save(force_insert=True)
        clients = list(api_clients)
        if clients:
            system.api_clients.add(*clients)
        audit.record(
            actor=actor,
            action="system.created",
            target=system,
            data={"system": system.slug, "domain": system.domain, "impact_level": system.impact_level},
        )
    return system


def system_go_live_problems(system: DecisionSystem) -> list[dict[str, Any]]:
    """What stands between a system and going live (S1, S2), as field errors. Empty when nothing does."""
    errors: list[dict[str, Any]] = []
    required = {
        "owner_organisation": "the owning organisation",
        "review_contact_name": "a named contact for human review",
        "review_contact_email": "the review contact's email",
        "purpose": "the purpose",
        "legal_basis": "the legal or contractual basis",
        "public_explanation": "the public explanation",
    }
    for name, what in required.items():
        if not str(getattr(system, name) or "").strip():
            errors.append(field_error(name, "required", f"Record {what} before going live (S1)."))
    assessment = system.assessments.order_by("-approved_on", "-id").first()
    if assessment is None:
        errors.append(
            field_error("assessments", "impact-assessment-missing", "Record an impact assessment (S1).")
        )
    elif assessment.level != system.impact_level:
        errors.append(
            field_error(
                "impact_level",
                "impact-assessment-level-mismatch",
                f"The latest impact assessment gives level {assessment.get_level_display()}, "
                f"the system says {system.get_impact_level_display()} (S1).",
            )
        )
    needed = policy.peer_reviews_required(system.impact_level)
    have = system.peer_reviews.count()
    if have < needed:
        errors.append(
            field_error(
                "peer_reviews",
                "peer-reviews-missing",
                f"Impact level {system.get_impact_level_display()} needs {needed} peer review(s); "
                f"{have} recorded (S2).",
            )
        )
    if not system.versions.filter(outcomes__isnull=False).exists():
        errors.append(
            field_error(
                "versions", "version-missing", "Publish a version with its outcomes before going live."
            )
        )
    return errors


def system_go_live(*, system: DecisionSystem, actor: Any) -> DecisionSystem:
    """Switch a draft or suspended system live, refusing (422 ``go-live-refused``) with every problem listed.

    Idempotent: a live system is returned unchanged and nothing is audited.
    """
    with transaction.atomic():
        system = DecisionSystem.objects.select_for_update().get(pk=system.pk)
        if system.status == DecisionSystem.Status.LIVE:
            return system
        errors = system_go_live_problems(system)
        if errors:
            raise GoLiveRefused(
                "The system cannot go live: " + "; ".join(e["message"] for e in errors), errors=errors
            )
        old = system.status
        system.status = DecisionSystem.Status.LIVE
        update = ["status"]
        if system.went_live_at is None:
            system.went_live_at = clock.now()
            update.append("went_live_at")
        system.save(update_fields=update)
        audit.record(
            actor=actor,
            action="system.went_live",
            target=system,
            data={"system": system.slug, "from": old, "impact_level": system.impact_level},
        )
    return system


def system_suspend(*, system: DecisionSystem, actor: Any, reason: str = "") -> DecisionSystem:
    """Suspend a live system: every new adverse outcome waits for a human until it goes live again (S29)."""
    with transaction.atomic():
        system = DecisionSystem.objects.select_for_update().get(pk=system.pk)
        if system.status == DecisionSystem.Status.SUSPENDED:
            return system
        if system.status != DecisionSystem.Status.LIVE:
            raise TransitionNotAllowed(f"A {system.get_status_display().lower()} system cannot be suspended.")
        system.status = DecisionSystem.Status.SUSPENDED
        system.save(update_fields=["status"])
        audit.record(
            actor=actor,
            action="system.suspended",
            target=system,
            data={"system": system.slug, "reason": reason[:500]},
        )
    return system


def system_update_policy(*, system: DecisionSystem, changes: dict[str, Any], actor: Any) -> DecisionSystem:
    """Change policy settings; the audit event carries each changed field's old and new value.

    Only ``POLICY_FIELDS`` may change (the impact level changes through ``impact_assessment_record``).
    Contact details are audited as changed without copying their values. No change, no event.
    """
    unknown = sorted(set(changes) - POLICY_FIELDS)
    _refuse([field_error(n, "not-changeable", "This setting cannot be changed here.") for n in unknown])
    with transaction.atomic():
        system = DecisionSystem.objects.select_for_update().get(pk=system.pk)
        values = dict(changes)
        _refuse(system_fields_problems(system, values))
        diff: dict[str, Any] = {}
        for name, new in values.items():
            old = getattr(system, name)
            if old == new:
                continue
            setattr(system, name, new)
            diff[name] = (
                {"changed": True}
                if name in _REDACTED_IN_AUDIT
                else {"old": _jsonable(old), "new": _jsonable(new)}
            )
        if not diff:
            return system
        if system.status == DecisionSystem.Status.LIVE:
            missing = [e for e in system_go_live_problems(system) if e["field"] in diff]
            _refuse(missing, detail="A live system cannot lose what it needed to go live.")
        system.save(update_fields=sorted(diff))
        audit.record(
            actor=actor,
            action="system.policy_updated",
            target=system,
            data={"system": system.slug, "changes": diff},
        )
    return system


def impact_assessment_record(
    *,
    system: DecisionSystem,
    score: int,
    max_score: int,
    approver: str,
    approved_on: date,
    actor: Any,
    summary: str = "",
    level: int | None = None,
) -> ImpactAssessment:
    """Record an Algorithmic Impact Assessment (S1). Its level is derived from the score, never typed in.

    A ``level`` passed by the caller must agree with the score. The system takes the assessed level (a
    reassessment can raise or lower it; both values are audited); at levels III-IV its new adverse
    outcomes then wait for a human decision at once (S2).
    """
    errors = []
    if not approver.strip():
        errors.append(field_error("approver", "required", "Name who approved the assessment."))
    try:
        derived = policy.impact_level_for_score(int(score), int(max_score))
    except (TypeError, ValueError) as exc:
        errors.append(field_error("score", "invalid", str(exc)))
        derived = 0
    if level is not None and derived and int(level) != derived:
        errors.append(
            field_error(
                "level", "level-contradicts-score", f"A score of {score}/{max_score} gives level {derived}."
            )
        )
    _refuse(errors)
    with transaction.atomic():
        system = DecisionSystem.objects.select_for_update().get(pk=system.pk)
        assessment = ImpactAssessment.objects.create(
            system=system,
            score=score,
            max_score=max_score,
            level=derived,
            approver=approver,
            approved_on=approved_on,
            summary=summary,
        )
        old_level = system.impact_level
        if old_level != derived:
            system.impact_level = derived
            system.save(update_fields=["impact_level"])
        audit.record(
            actor=actor,
            action="system.impact_assessed",
            target=system,
            data={
                "system": system.slug,
                "assessment": assessment.pk,
                "score": score,
                "max_score": max_score,
                "level": derived,
                "previous_level": old_level,
            },
        )
    return assessment


def peer_review_record(
    *,
    system: DecisionSystem,
    reviewer: str,
    organisation: str,
    reviewed_on: date,
    actor: Any,
    summary: str = "",
) -> PeerReview:
    """Record a peer review of the system (S2: levels II-III need one, level IV two)."""
    _refuse(
        [
            field_error(name, "required", "This field is required.")
            for name, value in (("reviewer", reviewer), ("organisation", organisation))
            if not (value or "").strip()
        ]
    )
    with transaction.atomic():
        review = PeerReview.objects.create(
            system=system,
            reviewer=reviewer,
            organisation=organisation,
            reviewed_on=reviewed_on,
            summary=summary,
        )
        audit.record(
            actor=actor,
            action="system.peer_reviewed",
            target=system,
            data={"system": system.slug, "peer_review": review.pk, "organisation": organisation},
        )
    return review


# ---------------------------------------------------------------------------------------------- versions

FEATURE_FIELDS = frozenset(
    {"name", "label", "data_type", "unit", "source", "context", "actionable", "protected", "legal_basis"}
)


def feature_problems(system: DecisionSystem, spec: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """Field errors (under ``path``) of a feature declaration for ``system``: S3 contexts, labels, types."""
    errors = [
        field_error(f"{path}.{n}", "unknown-field", "Not a feature field.")
        for n in sorted(set(spec) - FEATURE_FIELDS)
    ]
    for name in ("name", "data_type", "source", "context"):
        if not str(spec.get(name) or "").strip():
            errors.append(field_error(f"{path}.{name}", "required", "This field is required."))
    if errors:
        return errors
    if spec["data_type"] not in Feature.DataType.values:
        errors.append(field_error(f"{path}.data_type", "invalid", "Not a known data type."))
    if spec["context"] not in policy.DataContext.values:
        errors.append(field_error(f"{path}.context", "invalid", "Not a known data context."))
        return errors
    problem = policy.context_problem(
        system.domain,
        spec["context"],
        protected=bool(spec.get("protected")),
        legal_basis=str(spec.get("legal_basis") or ""),
    )
    if problem:
        errors.append(field_error(f"{path}.context", *problem))
    if spec.get("actionable") and spec.get("protected"):
        errors.append(
            field_error(
                f"{path}.actionable", "protected-not-actionable", "A protected attribute is never actionable."
            )
        )
    errors += _texts_missing(spec.get("label"), f"{path}.label")
    return errors


def reason_code_problems(spec: dict[str, Any], features: set[str], path: str) -> list[dict[str, Any]]:
    """Field errors of a reason code: generic (S6), texts in English and Spanish, a declared feature."""
    errors = []
    code = str(spec.get("code") or "").strip()
    if not code:
        errors.append(field_error(f"{path}.code", "required", "This field is required."))
    feature = spec.get("feature")
    feature_name = feature.name if isinstance(feature, Feature) else str(feature or "")
    if feature_name not in features:
        errors.append(
            field_error(
                f"{path}.feature", "undeclared-feature", "A reason code points at a declared feature."
            )
        )
    text_errors = _texts_missing(spec.get("text"), f"{path}.text")
    errors += text_errors
    if code and not text_errors:
        text = spec["text"]
        if policy.is_generic_reason(code, text["en"], text["es"]):
            errors.append(
                field_error(
                    f"{path}.code",
                    "generic-reason",
                    f"'{code}' is a generic reason; name the specific factor the person can act on (S6).",
                )
            )
    return errors


def outcome_problems(spec: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """Field errors of an outcome: a code, the adverse flag, label and effect in English and Spanish."""
    errors = []
    if not str(spec.get("code") or "").strip():
        errors.append(field_error(f"{path}.code", "required", "This field is required."))
    if not isinstance(spec.get("adverse"), bool):
        errors.append(field_error(f"{path}.adverse", "required", "Say whether the outcome is adverse."))
    errors += _texts_missing(spec.get("label"), f"{path}.label")
    errors += _texts_missing(spec.get("effect"), f"{path}.effect")
    return errors


def _duplicates(specs: Sequence[dict[str, Any]], key: str, path: str) -> list[dict[str, Any]]:
    seen: set[str] = set()
    errors = []
    for i, spec in enumerate(specs):
        value = str(spec.get(key) or "")
        if value and value in seen:
            errors.append(field_error(f"{path}.{i}.{key}", "duplicate", f"'{value}' is declared twice."))
        seen.add(value)
    return errors


def _new_feature(version: SystemVersion, spec: dict[str, Any]) -> Feature:
    return Feature(
        version=version,
        name=spec["name"],
        label=spec.get("label") or {},
        data_type=spec["data_type"],
        unit=spec.get("unit") or "",
        source=spec["source"],
        context=spec["context"],
        actionable=bool(spec.get("actionable")),
        protected=bool(spec.get("protected")),
        legal_basis=spec.get("legal_basis") or "",
    )


def _new_outcome(version: SystemVersion, spec: dict[str, Any]) -> Outcome:
    return Outcome(
        version=version,
        code=spec["code"],
        label=spec.get("label") or {},
        effect=spec.get("effect") or {},
        adverse=spec["adverse"],
        dsa=spec.get("dsa") or {},
    )


def version_create(
    *,
    system: DecisionSystem,
    version: str,
    actor: Any,
    features: Sequence[dict[str, Any]] = (),
    reason_codes: Sequence[dict[str, Any]] = (),
    outcomes: Sequence[dict[str, Any]] = (),
    score_min: Decimal | int | None = None,
    score_max: Decimal | int | None = None,
    threshold: Decimal | int | None = None,
    higher_is_better: bool = True,
    logic: dict[str, str] | None = None,
    performance: dict[str, Any] | None = None,
    fairness: dict[str, Any] | None = None,
    scorecard: dict[str, Any] | None = None,
) -> SystemVersion:
    """Publish a system version with its features, reason codes and outcomes, all checked together.

    Refuses: features from contexts the domain may not use, health data not declared protected, protected
    attributes without a legal basis (S3); reason codes that are generic or lack English or Spanish text,
    or that point at an undeclared feature (S6); outcomes without labels or effects in both languages;
    a score range that does not contain the threshold. ``reason_codes[i]["feature"]`` names a feature.
    """
    errors: list[dict[str, Any]] = []
    if not str(version or "").strip():
        errors.append(field_error("version", "required", "This field is required."))
    for i, spec in enumerate(features):
        errors += feature_problems(system, spec, f"features.{i}")
    names = {str(f.get("name")) for f in features}
    for i, spec in enumerate(reason_codes):
        errors += reason_code_problems(spec, names, f"reason_codes.{i}")
    for i, spec in enumerate(outcomes):
        errors += outcome_problems(spec, f"outcomes.{i}")
    errors += _duplicates(features, "name", "features")
    errors += _duplicates(reason_codes, "code", "reason_codes")
    errors += _duplicates(outcomes, "code", "outcomes")
    lo, hi, th = (Decimal(str(v)) if v is not None else None for v in (score_min, score_max, threshold))
    if lo is not None and hi is not None and lo >= hi:
        errors.append(field_error("score_max", "invalid", "The score range is empty."))
    if th is not None and ((lo is not None and th < lo) or (hi is not None and th > hi)):
        errors.append(field_error("threshold", "out-of-range", "The threshold lies outside the score range."))
    _refuse(errors)
    with transaction.atomic():
        if SystemVersion.objects.filter(system=system, version=version).exists():
            raise Conflict(
                "This version exists.",
                code="version-exists",
                errors=[field_error("version", "taken", "This version exists.")],
            )
        sv = SystemVersion.objects.create(
            system=system,
            version=version,
            score_min=lo,
            score_max=hi,
            threshold=th,
            higher_is_better=higher_is_better,
            logic=logic or {},
            performance=performance or {},
            fairness=fairness or {},
            scorecard=scorecard,
            released_at=clock.now(),
        )
        created = Feature.objects.bulk_create([_new_feature(sv, spec) for spec in features])
        by_name = {f.name: f for f in created}
        if any(f.pk is None for f in created):  # backends that cannot return ids from a bulk insert
            by_name = {f.name: f for f in sv.features.all()}
        ReasonCode.objects.bulk_create(
            [
                ReasonCode(
                    version=sv,
                    code=spec["code"],
                    feature=by_name[
                        spec["feature"].name if isinstance(spec["feature"], Feature) else spec["feature"]
                    ],
                    text=spec["text"],
                )
                for spec in reason_codes
            ]
        )
        Outcome.objects.bulk_create([_new_outcome(sv, spec) for spec in outcomes])
        audit.record(
            actor=actor,
            action="version.created",
            target=sv,
            data={
                "system": system.slug,
                "version": sv.version,
                "features": sorted(names),
                "reason_codes": sorted(str(r["code"]) for r in reason_codes),
                "outcomes": sorted(str(o["code"]) for o in outcomes),
                "scorecard": scorecard is not None,
            },
        )
    return sv


def _lock_unused_version(version: SystemVersion) -> SystemVersion:
    """A version under which decisions were recorded is frozen: its decisions must stay reproducible (S9)."""
    version = SystemVersion.objects.select_for_update().select_related("system").get(pk=version.pk)
    if version.decisions.exists():
        raise VersionInUse(f"Decisions were recorded under {version}; publish a new version to change it.")
    return version


def feature_create(*, version: SystemVersion, actor: Any, **spec: Any) -> Feature:
    """Declare one more input feature on a version no decision uses yet (S3 checks as in version_create)."""
    with transaction.atomic():
        version = _lock_unused_version(version)
        errors = feature_problems(version.system, spec, "feature")
        if version.features.filter(name=spec.get("name")).exists():
            errors.append(field_error("feature.name", "duplicate", "This feature is already declared."))
        _refuse(errors)
        feature = _new_feature(version, spec)
        feature.save(force_insert=True)
        audit.record(
            actor=actor,
            action="version.feature_added",
            target=version,
            data={"system": version.system.slug, "version": version.version, "feature": feature.name},
        )
    return feature


def reason_code_create(
    *, version: SystemVersion, code: str, feature: Feature | str, text: dict[str, str], actor: Any
) -> ReasonCode:
    """Add a reason code to a version no decision uses yet (S6 checks as in version_create)."""
    with transaction.atomic():
        version = _lock_unused_version(version)
        features = {f.name: f for f in version.features.all()}
        errors = reason_code_problems(
            {"code": code, "feature": feature, "text": text}, set(features), "reason_code"
        )
        if version.reason_codes.filter(code=code).exists():
            errors.append(field_error("reason_code.code", "duplicate", "This reason code exists."))
        _refuse(errors)
        name = feature.name if isinstance(feature, Feature) else feature
        rc = ReasonCode.objects.create(version=version, code=code, feature=features[name], text=text)
        audit.record(
            actor=actor,
            action="version.reason_code_added",
            target=version,
            data={"system": version.system.slug, "version": version.version, "reason_code": code},
        )
    return rc


def outcome_create(*, version: SystemVersion, actor: Any, **spec: Any) -> Outcome:
    """Add an outcome to a version no decision uses yet."""
    with transaction.atomic():
        version = _lock_unused_version(version)
        errors = outcome_problems(spec, "outcome")
        if version.outcomes.filter(code=spec.get("code")).exists():
            errors.append(field_error("outcome.code", "duplicate", "This outcome exists."))
        _refuse(errors)
        outcome = _new_outcome(version, spec)
        outcome.save(force_insert=True)
        audit.record(
            actor=actor,
            action="version.outcome_added",
            target=version,
            data={"system": version.system.slug, "version": version.version, "outcome": outcome.code},
        )
    return outcome


# ---------------------------------------------------------------------------------------------- access codes


def access_code_issue(decision: Decision) -> str:
    """Give ``decision`` a fresh portal access code (decisions.access): the hash is set on the instance
    (bound to its public reference), the plaintext is returned for the notice and never stored."""
    code = access.new_access_code()
    decision.access_code_hash = access.hash_access_code(decision.public_reference, code)
    return code


# ---------------------------------------------------------------------------------------------- decisions


@dataclass
class ItemResult:
    """The answer for one item of a batch: a decision (new or replayed) or the problem that refused it.

    ``access_code`` is the plaintext portal code of a newly created decision, for its notice; it is never
    stored and is None on a replay.
    """

    index: int
    decision: Decision | None = None
    created: bool = False
    access_code: str | None = None
    error: ApplicationError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Recorded(ItemResult):
    """What ``decision_record``, ``decision_supersede`` and ``decision_human_confirm`` return: an item that
    was recorded (or replayed), so ``decision`` is always there."""

    decision: Decision


@dataclass
class _Bundle:
    """A version with its features, reason codes and outcomes, loaded once per batch."""

    version: SystemVersion
    features: dict[str, Feature]
    reason_codes: dict[str, ReasonCode]
    outcomes: dict[str, Outcome]
    features_by_id: dict[int, Feature]
    # Reason codes whose code or texts are generic (S6), checked once per batch rather than per item.
    generic_codes: set[str] = field(default_factory=set)


@dataclass
class _Accepted:
    index: int
    system: DecisionSystem
    bundle: _Bundle
    item: dict[str, Any]
    payload_hash: str
    outcome: Outcome
    score: Decimal | None
    band: str
    inputs: list[tuple[Feature, Any, str, date | None]]
    reasons: list[tuple[ReasonCode, Feature, Decimal | None]]
    counterfactuals: list[dict[str, Any]]
    human: list[dict[str, Any]]
    flags: policy.AutomationFlags
    supersedes: Decision | None = None
    decision: Decision | None = None
    access_code: str = ""
    # The decision's inputs and reasons as inserted, for composing its notice without reading them back.
    prefetched: dict[str, list[Any]] = field(default_factory=dict)


_ITEM_KEYS = (
    "system",
    "system_version",
    "external_id",
    "subject",
    "outcome",
    "score",
    "band",
    "inputs",
    "reasons",
    "counterfactuals",
    "human_involvement",
    "automation_level",
    "decided_at",
)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _canonical(value: Any) -> Any:
    if type(value) in _SCALARS:  # the common case first; these are returned as they are below too
        return value
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def canonical_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value`` (sorted keys, decimals normalised, times in UTC)."""
    body = json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


# ---- normalisation: the contract's types, whoever calls (API serializer, seed_demo, tests)


class _Errors(list[dict[str, Any]]):
    def add(self, path: str, code: str, message: str) -> None:
        self.append(field_error(path, code, message))


def _as_text(value: Any, path: str, errors: _Errors, *, required: bool = True, max_length: int = 200) -> str:
    if value is None or value == "":
        if required:
            errors.add(path, "required", "This field is required.")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors.add(path, "invalid", "Expected a string.")
        return ""
    text = str(value).strip()
    if required and not text:
        errors.add(path, "required", "This field is required.")
    if len(text) > max_length:
        errors.add(path, "too-long", f"At most {max_length} characters.")
    return text


def _as_decimal(value: Any, path: str, errors: _Errors) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        errors.add(path, "invalid", "Expected a number.")
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors.add(path, "invalid", "Expected a number.")
        return None
    if not number.is_finite():
        errors.add(path, "invalid", "Expected a finite number.")
        return None
    if abs(number) >= Decimal("1e8"):
        errors.add(path, "invalid", "The number is too large.")
        return None
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:  # the record keeps four decimals
        number = number.quantize(Decimal("0.0001"))
    return number


def _as_datetime(value: Any, path: str, errors: _Errors, *, required: bool = True) -> datetime | None:
    if value is None or value == "":
        if required:
            errors.add(path, "required", "This field is required.")
        return None
    parsed = (
        value if isinstance(value, datetime) else parse_datetime(value) if isinstance(value, str) else None
    )
    if parsed is None:
        errors.add(path, "invalid", "Expected an ISO 8601 date and time.")
        return None
    if timezone.is_naive(parsed):
        errors.add(path, "naive-datetime", "Give a time zone (for example 2026-01-31T12:00:00Z).")
        return None
    return parsed


def _as_date(value: Any, path: str, errors: _Errors) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    parsed = parse_date(value) if isinstance(value, str) else None
    if parsed is None:
        errors.add(path, "invalid", "Expected an ISO 8601 date.")
    return parsed


def _as_list(value: Any, path: str, errors: _Errors) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, dict) for v in value):
        errors.add(path, "invalid", "Expected a list of objects.")
        return []
    return list(value)


def _json_value(value: Any) -> Any:
    """Input values as JSON types (Decimal becomes int or float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _language(value: Any, errors: _Errors) -> str:
    """The person's language as a supported code, or "" when not given (a known person keeps theirs;
    a new one gets English)."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        errors.add("subject.language", "invalid", "Expected a language code such as 'en' or 'es'.")
        return "en"
    lang = value.strip().lower().replace("_", "-").split("-")[0]
    supported = {code for code, _ in settings.LANGUAGES}
    if lang not in supported:
        errors.add(
            "subject.language",
            "unsupported-language",
            f"Notices are available in {', '.join(sorted(supported))}.",
        )
        return "en"
    return lang


def _normalise(raw: Any) -> tuple[dict[str, Any], _Errors]:
    """The item in the contract's types, every key present, and the errors of shape (not of meaning)."""
    errors = _Errors()
    if not isinstance(raw, dict):
        errors.add("", "invalid", "Each decision is a JSON object.")
        return {}, errors
    unknown = sorted(set(raw) - set(_ITEM_KEYS))
    for name in unknown:
        errors.add(name, "unknown-field", "Not a field of a decision.")
    subject_raw = raw.get("subject")
    if not isinstance(subject_raw, dict):
        errors.add("subject", "required", "Give the subject's external_ref (and contact details).")
        subject_raw = {}
    email = _as_text(subject_raw.get("email"), "subject.email", errors, required=False, max_length=254)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors.add("subject.email", "invalid", "Not a valid email address.")
    subject = {
        "external_ref": _as_text(subject_raw.get("external_ref"), "subject.external_ref", errors),
        "name": _as_text(subject_raw.get("name"), "subject.name", errors, required=False),
        "email": email,
        "language": _language(subject_raw.get("language"), errors),
    }
    inputs = []
    for i, spec in enumerate(_as_list(raw.get("inputs"), "inputs", errors)):
        inputs.append(
            {
                "feature": _as_text(spec.get("feature"), f"inputs.{i}.feature", errors, max_length=80),
                "value": _json_value(spec.get("value")),
                "source": _as_text(spec.get("source"), f"inputs.{i}.source", errors, required=False),
                "as_of": _as_date(spec.get("as_of"), f"inputs.{i}.as_of", errors),
            }
        )
    reasons = []
    for i, spec in enumerate(_as_list(raw.get("reasons"), "reasons", errors)):
        reasons.append(
            {
                "code": _as_text(spec.get("code"), f"reasons.{i}.code", errors, max_length=40),
                "feature": _as_text(spec.get("feature"), f"reasons.{i}.feature", errors, required=False),
                "weight": _as_decimal(spec.get("weight"), f"reasons.{i}.weight", errors),
            }
        )
    counterfactuals = []
    for i, spec in enumerate(_as_list(raw.get("counterfactuals"), "counterfactuals", errors)):
        value = spec["value"] if "value" in spec else spec.get("to")
        counterfactuals.append(
            {
                "feature": _as_text(
                    spec.get("feature"), f"counterfactuals.{i}.feature", errors, max_length=80
                ),
                "value": _json_value(value),
            }
        )
    human = []
    for i, spec in enumerate(_as_list(raw.get("human_involvement"), "human_involvement", errors)):
        human.append(
            {
                "kind": _as_text(spec.get("kind"), f"human_involvement.{i}.kind", errors, max_length=12),
                "by": _as_text(spec.get("by"), f"human_involvement.{i}.by", errors, max_length=120),
                "at": _as_datetime(spec.get("at"), f"human_involvement.{i}.at", errors),
            }
        )
    item = {
        "system": _as_text(raw.get("system"), "system", errors, max_length=80),
        "system_version": _as_text(raw.get("system_version"), "system_version", errors, max_length=40),
        "external_id": _as_text(raw.get("external_id"), "external_id", errors),
        "subject": subject,
        "outcome": _as_text(raw.get("outcome"), "outcome", errors, required=False, max_length=40),
        "score": _as_decimal(raw.get("score"), "score", errors),
        "band": _as_text(raw.get("band"), "band", errors, required=False, max_length=40),
        "inputs": inputs,
        "reasons": reasons,
        "counterfactuals": counterfactuals,
        "human_involvement": human,
        "automation_level": _as_text(
            raw.get("automation_level"), "automation_level", errors, required=False, max_length=8
        )
        or None,
        "decided_at": _as_datetime(raw.get("decided_at"), "decided_at", errors),
    }
    return item, errors


# ---- meaning: the safeguards


def _value_problem(feature: Feature, value: Any) -> str | None:
    T = Feature.DataType
    if value is None:
        return "A value is required."
    if feature.data_type == T.NUMBER:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif feature.data_type == T.INTEGER:
        ok = isinstance(value, int) and not isinstance(value, bool)
        ok = ok or (isinstance(value, float) and value.is_integer())
    elif feature.data_type == T.BOOLEAN:
        ok = isinstance(value, bool)
    elif feature.data_type == T.DATE:
        ok = isinstance(value, str) and parse_date(value) is not None
    else:
        ok = isinstance(value, str | int | float) and not isinstance(value, bool)
    return None if ok else f"Expected a {feature.data_type} value for '{feature.name}'."


def _attr(obj: Any, *names: str) -> Any:
    """The first of ``names`` that ``obj`` has, as a dict key or an attribute."""
    for name in names:
        if isinstance(obj, dict) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return None


def _apply_scorecard(item: dict[str, Any], bundle: _Bundle, errors: _Errors) -> None:
    """Hook for built-in scorecards (``decisions.scorecards``): fill what the integrator left to the card.

    When the version carries a scorecard, ``decisions.scorecards.evaluate(scorecard, inputs)`` gives the
    score, outcome code, principal reasons and counterfactual. The hook fills a missing score, outcome,
    band and counterfactual, and the reasons of an adverse outcome. A given score that differs from the
    card's is refused (S9: built-in scores are reproducible); a given outcome that differs is refused unless
    a person took or approved the decision. Inputs the card cannot score are refused with its messages.
    Skipped when the scorecards module provides no ``evaluate``.
    """
    if not bundle.version.scorecard:
        return
    try:
        from decisions import scorecards  # the floor's own engine, imported lazily
    except ImportError:  # pragma: no cover - shipped alongside
        return
    evaluate = getattr(scorecards, "evaluate", None)
    if evaluate is None:  # pragma: no cover
        return
    values = {i["feature"]: i["value"] for i in item["inputs"] if i["feature"]}
    try:
        result = evaluate(bundle.version.scorecard, values)
    except ApplicationError as exc:
        errors.extend(exc.errors or [field_error("inputs", exc.code, exc.detail)])
        return
    except (KeyError, TypeError, ValueError) as exc:
        for message in getattr(exc, "errors", None) or [str(exc)]:
            errors.add("inputs", "scorecard-failed", f"The version's scorecard cannot score this: {message}")
        return
    score = _attr(result, "score")
    score = Decimal(str(score)) if score is not None else None
    if item["score"] is None:
        item["score"] = score
    elif score is not None and abs(item["score"] - score) > Decimal("0.0001"):
        errors.add("score", "score-contradicts-scorecard", f"The version's scorecard gives {score} (S9).")
    outcome = _attr(result, "outcome_code", "outcome")
    human_decided = policy.derive_automation(h["kind"] for h in item["human_involvement"]).human_decided
    if not item["outcome"]:
        item["outcome"] = outcome or ""
    elif outcome and item["outcome"] != outcome and not human_decided:
        errors.add(
            "outcome",
            "outcome-contradicts-scorecard",
            f"The version's scorecard gives '{outcome}'; "
            "a different outcome needs a recorded human decision.",
        )
    chosen = bundle.outcomes.get(item["outcome"])
    if not item["reasons"] and chosen is not None and chosen.adverse:
        reasons = []
        for r in _attr(result, "reasons") or []:
            code, feature, weight = (
                r
                if isinstance(r, tuple) and not hasattr(r, "code")
                else (
                    _attr(r, "code"),
                    _attr(r, "feature"),
                    _attr(r, "weight"),
                )
            )
            reasons.append(
                {
                    "code": str(code),
                    "feature": str(feature or ""),
                    "weight": Decimal(str(weight)) if weight is not None else None,
                }
            )
        item["reasons"] = reasons
    if not item["counterfactuals"] and chosen is not None and chosen.adverse:
        item["counterfactuals"] = [
            {"feature": str(_attr(cf, "feature")), "value": _json_value(_attr(cf, "to_value", "to"))}
            for cf in _attr(result, "counterfactual") or []
        ]
    if not item["band"]:
        item["band"] = str(_attr(result, "band") or "")[:40]


def _check_item(
    index: int, item: dict[str, Any], system: DecisionSystem, bundle: _Bundle, now: datetime
) -> _Accepted | ApplicationError:
    """Every check of meaning on one item (S3, S6, S7, the contract): the accepted item or its problem."""
    errors = _Errors()
    _apply_scorecard(item, bundle, errors)

    outcome = bundle.outcomes.get(item["outcome"])
    if not item["outcome"]:
        errors.add("outcome", "required", "This field is required.")
    elif outcome is None:
        errors.add(
            "outcome",
            "unknown-outcome",
            f"'{item['outcome']}' is not an outcome of {bundle.version}: "
            f"{', '.join(sorted(bundle.outcomes))}.",
        )

    v = bundle.version
    score = item["score"]
    if score is not None and (
        (v.score_min is not None and score < v.score_min) or (v.score_max is not None and score > v.score_max)
    ):
        errors.add(
            "score", "score-out-of-range", f"The score must lie between {v.score_min} and {v.score_max}."
        )

    if item["decided_at"] is not None and item["decided_at"] > now + FUTURE_SKEW:
        errors.add("decided_at", "in-the-future", "A decision cannot be dated in the future.")

    # Inputs (S3)
    used: dict[str, Feature] = {}
    inputs: list[tuple[Feature, Any, str, date | None]] = []
    for i, spec in enumerate(item["inputs"]):
        name = spec["feature"]
        if not name:
            continue
        feature = bundle.features.get(name)
        path = f"inputs.{i}"
        if feature is None:
            errors.add(
                f"{path}.feature", "undeclared-feature", f"'{name}' is not a declared feature of {v} (S3)."
            )
            continue
        if name in used:
            errors.add(f"{path}.feature", "duplicate-feature", f"'{name}' is given twice.")
            continue
        problem = policy.context_problem(
            system.domain, feature.context, protected=feature.protected, legal_basis=feature.legal_basis
        )
        if problem:
            errors.add(f"{path}.feature", problem[0], f"'{name}': {problem[1]} (S3)")
            continue
        value_problem = _value_problem(feature, spec["value"])
        if value_problem:
            errors.add(f"{path}.value", "invalid-value", value_problem)
            continue
        if spec["as_of"] is not None and spec["as_of"] > now.date() + timedelta(days=1):
            errors.add(f"{path}.as_of", "in-the-future", "Data cannot be dated in the future.")
        used[name] = feature
        inputs.append((feature, spec["value"], spec["source"] or feature.source, spec["as_of"]))

    # Reasons (S6)
    reasons: list[tuple[ReasonCode, Feature, Decimal | None]] = []
    given = item["reasons"]
    if outcome is not None and outcome.adverse and not given:
        errors.add("reasons", "reasons-required", "An adverse decision states 1 to 4 principal reasons (S6).")
    if len(given) > policy.MAX_REASONS:
        errors.add("reasons", "too-many-reasons", f"At most {policy.MAX_REASONS} principal reasons (S6).")
    weights = [r["weight"] for r in given]
    if any(w is not None for w in weights) and any(w is None for w in weights):
        for i, w in enumerate(weights):
            if w is None:
                errors.add(f"reasons.{i}.weight", "required", "Give every reason a weight, or none.")
    elif all(w is not None for w in weights):
        for i in range(1, len(weights)):
            if abs(weights[i] or 0) > abs(weights[i - 1] or 0):
                errors.add(
                    f"reasons.{i}.weight",
                    "reasons-not-ordered",
                    "Order the reasons by weight, the heaviest first (S6).",
                )
    seen_codes: set[str] = set()
    for i, spec in enumerate(given):
        code, path = spec["code"], f"reasons.{i}"
        if not code:
            continue
        rc = bundle.reason_codes.get(code)
        if rc is None:
            kind = "generic-reason" if policy.is_generic_reason(code) else "unknown-reason-code"
            errors.add(f"{path}.code", kind, f"'{code}' is not a reason code of {v} (S6).")
            continue
        if rc.code in bundle.generic_codes:
            errors.add(f"{path}.code", "generic-reason", f"'{code}' is a generic reason (S6).")
            continue
        if code in seen_codes:
            errors.add(f"{path}.code", "duplicate-reason", f"'{code}' is given twice.")
            continue
        seen_codes.add(code)
        rc_feature = bundle.features_by_id[rc.feature_id]
        name = spec["feature"] or rc_feature.name
        if name != rc_feature.name:
            errors.add(
                f"{path}.feature",
                "reason-feature-mismatch",
                f"Reason '{code}' is about '{rc_feature.name}', not '{name}' (S6).",
            )
            continue
        if name not in used:
            errors.add(
                f"{path}.feature",
                "reason-feature-not-used",
                f"Reason '{code}' points at '{name}', which this decision did not use (S6).",
            )
            continue
        reasons.append((rc, rc_feature, spec["weight"]))

    # Counterfactuals: only actionable inputs the decision used (S8)
    counterfactuals = []
    for i, spec in enumerate(item["counterfactuals"]):
        name = spec["feature"]
        feature = used.get(name)
        if feature is None:
            errors.add(
                f"counterfactuals.{i}.feature", "not-an-input", f"'{name}' is not an input of this decision."
            )
        elif not feature.actionable or feature.protected:
            errors.add(
                f"counterfactuals.{i}.feature",
                "not-actionable",
                f"'{name}' is not something the person can change.",
            )
        else:
            counterfactuals.append({"feature": name, "value": spec["value"]})

    # Human involvement and automation (S7)
    human = []
    for i, spec in enumerate(item["human_involvement"]):
        if spec["kind"] and spec["kind"] not in HumanInvolvement.Kind.values:
            errors.add(
                f"human_involvement.{i}.kind",
                "invalid",
                f"One of: {', '.join(HumanInvolvement.Kind.values)}.",
            )
        elif spec["at"] is not None and spec["at"] > now + FUTURE_SKEW:
            errors.add(f"human_involvement.{i}.at", "in-the-future", "A step cannot be dated in the future.")
        else:
            human.append(spec)
    flags = policy.derive_automation(h["kind"] for h in human)
    claimed = item["automation_level"]
    if claimed is not None:
        if claimed not in Decision.Automation.values:
            errors.add("automation_level", "invalid", f"One of: {', '.join(Decision.Automation.values)}.")
        elif claimed != flags.level:
            errors.add(
                "automation_level",
                "automation-contradicts-record",
                f"The recorded human involvement makes this decision '{flags.level}', not '{claimed}' (S7).",
            )

    if errors or outcome is None:
        return DecisionRefused(
            "The decision was refused: " + "; ".join(e["message"] for e in errors[:3]), errors=list(errors)
        )
    return _Accepted(
        index=index,
        system=system,
        bundle=bundle,
        item=item,
        payload_hash="",
        outcome=outcome,
        score=score,
        band=item["band"],
        inputs=inputs,
        reasons=reasons,
        counterfactuals=counterfactuals,
        human=human,
        flags=flags,
    )


# ---- loading


class _Catalogue:
    """What a batch refers to, loaded in a constant number of queries."""

    def __init__(self, items: list[dict[str, Any]], client: ApiClient | None) -> None:
        slugs = {it["system"] for it in items if it.get("system")}
        self.systems = {s.slug: s for s in DecisionSystem.objects.filter(slug__in=slugs)} if slugs else {}
        self.scope: set[int] | None = None
        if client is not None:
            self.scope = set(DecisionSystem.objects.filter(api_clients=client).values_list("id", flat=True))
        wanted = {
            (self.systems[it["system"]].pk, it["system_version"])
            for it in items
            if it.get("system") in self.systems and it.get("system_version")
        }
        self.bundles: dict[tuple[int, str], _Bundle] = {}
        if wanted:
            versions = SystemVersion.objects.filter(
                system_id__in={s for s, _ in wanted}, version__in={v for _, v in wanted}
            ).prefetch_related("features", "reason_codes", "outcomes")
            for sv in versions:
                if (sv.system_id, sv.version) not in wanted:
                    continue
                features = list(sv.features.all())
                self.bundles[(sv.system_id, sv.version)] = _Bundle(
                    version=sv,
                    features={f.name: f for f in features},
                    reason_codes={rc.code: rc for rc in sv.reason_codes.all()},
                    outcomes={o.code: o for o in sv.outcomes.all()},
                    features_by_id={f.pk: f for f in features},
                    generic_codes={
                        rc.code
                        for rc in sv.reason_codes.all()
                        if policy.is_generic_reason(rc.code, rc.text.get("en", ""), rc.text.get("es", ""))
                    },
                )
        keys = {
            (self.systems[it["system"]].pk, it["external_id"])
            for it in items
            if it.get("system") in self.systems and it.get("external_id")
        }
        self.existing: dict[tuple[int, str], Decision] = {}
        if keys:
            for d in Decision.objects.filter(
                system_id__in={s for s, _ in keys}, external_id__in={e for _, e in keys}
            ).select_related("system", "outcome"):
                if (d.system_id, d.external_id) in keys:
                    self.existing[(d.system_id, d.external_id)] = d


# ---- inserting


def _subjects_for(accepted: list[_Accepted]) -> dict[tuple[int, str], Subject]:
    """Find or create the subjects of a batch (and keep their contact data current), in a few statements.

    Race-safe: subjects are inserted with ON CONFLICT DO NOTHING and read back, so two batches naming the
    same new person both end up with the one row.
    """
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    for a in accepted:
        latest[(a.system.pk, a.item["subject"]["external_ref"])] = a.item["subject"]
    refs = {ref for _, ref in latest}
    system_ids = {s for s, _ in latest}

    def load() -> dict[tuple[int, str], Subject]:
        found = Subject.objects.filter(system_id__in=system_ids, external_ref__in=refs).select_related(
            "contact"
        )
        return {(s.system_id, s.external_ref): s for s in found if (s.system_id, s.external_ref) in latest}

    subjects = load()
    for attempt in range(4):
        missing = [key for key in latest if key not in subjects]
        if not missing:
            break
        if attempt == 3:
            raise RetryLater(
                "Could not register the people of this batch; try again.", code="subject-create-failed"
            )
        bulk.insert_rows(
            Subject,
            [
                Subject(
                    system_id=sid,
                    external_ref=ref,
                    pseudonym=pseudonym(),
                    language=latest[(sid, ref)]["language"] or "en",
                )
                for sid, ref in missing
            ],
            ignore_conflicts=True,  # a concurrent batch created it, or (rarely) a pseudonym collided: retry
        )
        subjects = load()

    new_contacts, changed_contacts, changed_subjects = [], [], []
    for key, subject in subjects.items():
        data = latest[key]
        try:
            contact = subject.contact
        except SubjectContact.DoesNotExist:
            new_contacts.append(SubjectContact(subject=subject, name=data["name"], email=data["email"]))
        else:
            if (data["name"] and data["name"] != contact.name) or (
                data["email"] and data["email"] != contact.email
            ):
                contact.name = data["name"] or contact.name
                contact.email = data["email"] or contact.email
                changed_contacts.append(contact)
        if data["language"] and data["language"] != subject.language and subject.erased_at is None:
            subject.language = data["language"]
            changed_subjects.append(subject)
    # One statement each whatever the batch's size (core.bulk); a contact a concurrent batch wrote first
    # is left as it is.
    bulk.insert_rows(SubjectContact, new_contacts, ignore_conflicts=True)
    bulk.update_rows(SubjectContact, changed_contacts, ["name", "email"])
    bulk.update_rows(Subject, changed_subjects, ["language"])
    return subjects


def _explanation(a: _Accepted, decision: Decision) -> Explanation:
    """The structured layered explanation (S8): rationale, responsibility, data, counterfactual, figures."""
    s, v = a.system, a.bundle.version
    values = {f.name: value for f, value, _src, _as_of in a.inputs}
    return Explanation(
        decision=decision,
        rationale=[
            {
                "rank": rank,
                "code": rc.code,
                "feature": f.name,
                "weight": _jsonable(w),
                "text": {lang: rc.text.get(lang, "") for lang in REQUIRED_LANGUAGES},
            }
            for rank, (rc, f, w) in enumerate(a.reasons, start=1)
        ],
        responsibility={
            "organisation": s.owner_organisation,
            "system": s.slug,
            "system_name": s.name,
            "version": v.version,
            "contact_name": s.review_contact_name,
            "contact_email": s.review_contact_email,
            "contact_phone": s.review_contact_phone,
            "legal_basis": s.legal_basis,
        },
        data=[
            {
                "feature": f.name,
                "label": f.label,
                "value": value,
                "unit": f.unit,
                "source": source,
                "as_of": as_of.isoformat() if as_of else None,
                "context": f.context,
            }
            for f, value, source, as_of in a.inputs
        ],
        counterfactual=[
            {
                "feature": cf["feature"],
                "label": a.bundle.features[cf["feature"]].label,
                "from": values.get(cf["feature"]),
                "to": cf["value"],
            }
            for cf in a.counterfactuals
        ],
        performance=v.performance or {},
        fairness=v.fairness or {},
    )


def _initial_status(a: _Accepted, now: datetime) -> tuple[str, datetime | None]:
    S = Decision.Status
    if not a.outcome.adverse:
        return S.EFFECTIVE, now
    needs_human = (
        a.system.requires_human_decision_for_adverse or a.system.status == DecisionSystem.Status.SUSPENDED
    )
    if needs_human and not a.flags.human_decided:
        return S.AWAITING_HUMAN, None
    return S.PENDING_NOTICE, None


def _inputs_snapshot(a: _Accepted) -> list[dict[str, Any]]:
    return sorted(
        (
            {
                "feature": f.name,
                "value": value,
                "source": source,
                "as_of": as_of.isoformat() if as_of else None,
            }
            for f, value, source, as_of in a.inputs
        ),
        key=lambda row: row["feature"],
    )


def _fresh_references(accepted: list[_Accepted]) -> list[str]:
    """Public references for the batch, none already taken (one query; a collision is regenerated)."""
    refs = [public_reference(policy.reference_prefix(a.system.domain)) for a in accepted]
    for _attempt in range(5):
        clash = set(
            Decision.objects.filter(public_reference__in=refs).values_list("public_reference", flat=True)
        )
        dupes = {r for r in refs if refs.count(r) > 1} if len(set(refs)) != len(refs) else set()
        if not clash and not dupes:
            return refs
        seen: set[str] = set()
        for i, a in enumerate(accepted):
            if refs[i] in clash or refs[i] in seen:
                refs[i] = public_reference(policy.reference_prefix(a.system.domain))
            seen.add(refs[i])
    raise RetryLater("Could not allocate public references; try again.", code="reference-collision")


def _insert(accepted: list[_Accepted], *, actor: Any, client: ApiClient | None, now: datetime) -> None:
    subjects = _subjects_for(accepted)
    refs = _fresh_references(accepted)
    decisions = []
    inputs: list[DecisionInput] = []
    reasons: list[DecisionReason] = []
    human: list[HumanInvolvement] = []
    for a, ref in zip(accepted, refs, strict=True):
        status, effective_at = _initial_status(a, now)
        snapshot = _inputs_snapshot(a)
        values = {f.name: value for f, value, *_rest in a.inputs}
        v = a.bundle.version
        d = Decision(
            id=uuid7(),
            system=a.system,
            version=v,
            external_id=a.item["external_id"],
            public_reference=ref,
            subject=subjects[(a.system.pk, a.item["subject"]["external_ref"])],
            outcome=a.outcome,
            adverse=a.outcome.adverse,
            score=a.score,
            score_min=v.score_min,
            score_max=v.score_max,
            threshold=v.threshold,
            band=a.band,
            automation=a.flags.level,
            automated_detection=a.flags.automated_detection,
            automated_decision=a.flags.automated_decision,
            inputs_snapshot=snapshot,
            inputs_hash=canonical_hash(snapshot),
            payload_hash=a.payload_hash,
            counterfactuals=[
                {"feature": cf["feature"], "from": values.get(cf["feature"]), "to": cf["value"]}
                for cf in a.counterfactuals
            ],
            status=status,
            decided_at=a.item["decided_at"],
            recorded_at=now,
            effective_at=effective_at,
            supersedes=a.supersedes,
            recorded_by=client,
        )
        a.access_code = access_code_issue(d)
        a.decision = d
        decisions.append(d)
        a.prefetched = {
            "inputs": [
                DecisionInput(decision=d, feature=f, value=value, source=source, as_of=as_of)
                for f, value, source, as_of in a.inputs
            ],
            "reasons": [
                DecisionReason(decision=d, reason_code=rc, feature=f, rank=rank, weight=w)
                for rank, (rc, f, w) in enumerate(a.reasons, start=1)
            ],
        }
        inputs += a.prefetched["inputs"]
        reasons += a.prefetched["reasons"]
        human += [HumanInvolvement(decision=d, kind=h["kind"], by=h["by"], at=h["at"]) for h in a.human]
    explanations = [_explanation(a, a.decision) for a in accepted if a.decision is not None]
    # One statement per table (COPY on PostgreSQL: core.bulk). Ids of inputs, reasons and human steps
    # are not read back; nothing below needs them.
    bulk.insert_rows(Decision, decisions)
    bulk.insert_rows(DecisionInput, inputs)
    bulk.insert_rows(DecisionReason, reasons)
    bulk.insert_rows(HumanInvolvement, human)
    bulk.insert_rows(Explanation, explanations)
    for expl in explanations:
        expl.decision.explanation = expl  # the notice composer reads it without a query
    audit.record_many(
        audit.PendingEvent(
            actor=actor,
            action="decision.recorded",
            target=a.decision,
            data={
                "decision": str(rec.pk),
                "public_reference": rec.public_reference,
                "system": a.system.slug,
                "version": a.bundle.version.version,
                "outcome": a.outcome.code,
                "adverse": rec.adverse,
                "status": rec.status,
                "automation": rec.automation,
                "subject": rec.subject.pseudonym,
                "inputs_hash": rec.inputs_hash,
                "supersedes": str(rec.supersedes_id) if rec.supersedes_id else None,
            },
            occurred_at=now,
        )
        for a in accepted
        if (rec := a.decision) is not None
    )


def _compose_notices(
    ready: list[tuple[Decision, str]], actor: Any, prefetched: dict[Any, dict[str, list[Any]]] | None = None
) -> None:
    """Hand decisions and their plaintext access codes to the notice composer, in this transaction (outbox).

    ``decisions.notices.decision_notices_compose(decisions=[...], access_codes={id: code}, actor=...)``
    receives Decision instances whose system, version, outcome, subject (with its contact) and explanation
    are already loaded. With ``prefetched`` (decision id -> {"inputs": [...], "reasons": [...]}, the rows
    this batch just inserted) the composer reads nothing back: the rows are set as the decisions' prefetched
    related objects for the composition, and taken away again after it (their ids were not read back, so
    callers of the service must not meet them). Decisions awaiting a human are composed when the human
    confirms them.
    """
    from decisions.notices import decision_notices_compose

    if not ready:
        return
    decisions = [d for d, _code in ready]
    if prefetched is not None:
        for d in decisions:
            cache = d.__dict__.setdefault("_prefetched_objects_cache", {})
            cache.update(prefetched[d.pk])
    try:
        decision_notices_compose(
            decisions=decisions,
            access_codes={d.pk: code for d, code in ready},
            actor=actor,
            loaded=prefetched is not None,
        )
    finally:
        if prefetched is not None:
            for d in decisions:
                for name in prefetched[d.pk]:
                    d._prefetched_objects_cache.pop(name, None)  # type: ignore[attr-defined]


# ---- the service


def _process(
    raw_items: Sequence[Any],
    *,
    actor: Any,
    client: ApiClient | None,
    supersedes: Decision | None = None,
) -> list[ItemResult]:
    now = clock.now()
    results: list[ItemResult] = [ItemResult(index=i) for i in range(len(raw_items))]
    normalised: list[dict[str, Any]] = []
    for i, raw in enumerate(raw_items):
        item, errors = _normalise(raw)
        normalised.append(item)
        if errors:
            results[i].error = DecisionRefused(
                "The decision was refused: " + "; ".join(e["message"] for e in errors[:3]),
                errors=list(errors),
            )
    cat = _Catalogue([it for i, it in enumerate(normalised) if results[i].error is None], client)

    accepted: list[_Accepted] = []
    first_in_batch: dict[tuple[int, str], tuple[str, int]] = {}
    replays_of: dict[int, int] = {}
    for i, item in enumerate(normalised):
        result = results[i]
        if result.error is not None:
            continue
        system = cat.systems.get(item["system"])
        if system is None:
            result.error = DecisionRefused(
                f"Unknown system '{item['system']}'.",
                errors=[
                    field_error("system", "unknown-system", f"There is no system '{item['system']}' (S1).")
                ],
            )
            continue
        if cat.scope is not None and system.pk not in cat.scope:
            result.error = SystemNotInScope(f"This API key is not scoped to the system '{system.slug}'.")
            continue
        payload_hash = canonical_hash(item)
        key = (system.pk, item["external_id"])
        existing = cat.existing.get(key)
        if existing is not None:
            if existing.payload_hash == payload_hash:
                result.decision = existing
            else:
                result.error = ExternalIdConflict(
                    f"The external id '{item['external_id']}' was used for a different decision "
                    f"({existing.public_reference}).",
                    errors=[field_error("external_id", "conflict", "Already used for a different decision.")],
                )
            continue
        if key in first_in_batch:
            first_hash, first_index = first_in_batch[key]
            if first_hash == payload_hash:
                replays_of[i] = first_index
            else:
                result.error = ExternalIdConflict(
                    f"The external id '{item['external_id']}' appears twice in this batch "
                    "with different content.",
                    errors=[field_error("external_id", "conflict", "Used twice in this batch.")],
                )
            continue
        if system.status == DecisionSystem.Status.DRAFT:
            result.error = DecisionRefused(
                f"The system '{system.slug}' is not live.",
                code="system-not-live",
                errors=[field_error("system", "system-not-live", "This system has not gone live (S1).")],
            )
            continue
        bundle = cat.bundles.get((system.pk, item["system_version"]))
        if bundle is None:
            result.error = DecisionRefused(
                f"Unknown version '{item['system_version']}' of '{system.slug}'.",
                errors=[
                    field_error("system_version", "unknown-version", f"'{system.slug}' has no such version.")
                ],
            )
            continue
        checked = _check_item(i, item, system, bundle, now)
        if isinstance(checked, ApplicationError):
            result.error = checked
            continue
        if supersedes is not None:
            checked.supersedes = supersedes
        checked.payload_hash = payload_hash
        first_in_batch[key] = (payload_hash, i)
        accepted.append(checked)

    # A replay whose first occurrence was refused shares its fate.
    for i, first in replays_of.items():
        if results[first].error is not None:
            results[i].error = results[first].error

    if accepted:
        _insert(accepted, actor=actor, client=client, now=now)
        for a in accepted:
            results[a.index].decision = a.decision
            results[a.index].created = True
            results[a.index].access_code = a.access_code
    for i, first in replays_of.items():
        if results[first].error is None:
            results[i].decision = results[first].decision
    _compose_notices(
        [
            (r.decision, r.access_code or "")
            for r in results
            if r.created and r.decision is not None and r.decision.status != Decision.Status.AWAITING_HUMAN
        ],
        actor,
        prefetched={a.decision.pk: a.prefetched for a in accepted if a.decision is not None},
    )
    return results


def _client_of(actor: Any, client: ApiClient | None) -> ApiClient | None:
    if client is not None:
        return client
    return actor if isinstance(actor, ApiClient) else None


def decision_record_many(
    *, items: Sequence[Any], actor: Any, client: ApiClient | None = None
) -> list[ItemResult]:
    """Record a batch of decisions: each item accepted (or replayed) or refused on its own.

    ``client`` (defaults to ``actor`` when that is an ApiClient) limits the batch to the client's systems;
    staff and system actors are not limited. At most ``MAX_BATCH`` items (``batch-too-large``, 422).
    Accepted items are inserted together in one transaction (retried once when a concurrent batch took the
    same external id or reference first); refused items write nothing.
    """
    if len(items) > MAX_BATCH:
        raise BatchTooLarge(f"At most {MAX_BATCH} decisions per batch; this one has {len(items)}.")
    client = _client_of(actor, client)
    as_actor(actor)  # fail early on a caller that is not an actor
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _process(items, actor=actor, client=client)
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("decision batch collided with a concurrent one; retrying")
    raise AssertionError("unreachable")  # pragma: no cover


def _recorded(result: ItemResult) -> Recorded:
    if result.error is not None:
        raise result.error
    if result.decision is None:  # pragma: no cover - an accepted item always carries its decision
        raise ApplicationError("The decision was not recorded.", status=500)
    return Recorded(
        index=result.index, decision=result.decision, created=result.created, access_code=result.access_code
    )


def decision_record(*, data: Any, actor: Any, client: ApiClient | None = None) -> Recorded:
    """Record one decision (a batch of one); raises the item's ApplicationError when it is refused."""
    (result,) = decision_record_many(items=[data], actor=actor, client=client)
    return _recorded(result)


def decision_supersede(
    *, decision: Decision, data: Any, actor: Any, client: ApiClient | None = None
) -> Recorded:
    """Correct a recorded decision: a new decision (``data``, a full item with a new external id) that
    ``supersedes`` it; the old one becomes ``superseded`` (S5: records are never edited).

    The correction must be for the same system and subject. A replay of the same correction returns it.
    Reversed or already superseded decisions cannot be superseded again (409).
    """
    client = _client_of(actor, client)
    with transaction.atomic():
        old = Decision.objects.select_for_update().select_related("system", "subject").get(pk=decision.pk)
        if client is not None and not old.system.api_clients.filter(pk=client.pk).exists():
            raise SystemNotInScope(f"This API key is not scoped to the system '{old.system.slug}'.")
        errors = []
        if isinstance(data, dict):
            if data.get("system") != old.system.slug:
                errors.append(
                    field_error("system", "system-mismatch", "A correction is for the same system.")
                )
            subject_ref = (
                (data.get("subject") or {}).get("external_ref")
                if isinstance(data.get("subject"), dict)
                else None
            )
            if subject_ref != old.subject.external_ref:
                errors.append(
                    field_error(
                        "subject.external_ref", "subject-mismatch", "A correction is about the same person."
                    )
                )
            if data.get("external_id") == old.external_id:
                errors.append(
                    field_error("external_id", "same-external-id", "A correction needs its own external id.")
                )
        _refuse(errors, DecisionRefused)
        if old.status in (Decision.Status.SUPERSEDED, Decision.Status.REVERSED):
            # Answer an identical replay of the correction that superseded it.
            replay = Decision.objects.filter(supersedes=old).first()
            if (
                replay is not None
                and isinstance(data, dict)
                and replay.external_id == data.get("external_id")
            ):
                (result,) = _process([data], actor=actor, client=client)
                if result.error is None and not result.created and result.decision is not None:
                    return _recorded(result)
            raise TransitionNotAllowed(f"A {old.get_status_display().lower()} decision cannot be superseded.")
        (item,) = _process([data], actor=actor, client=client, supersedes=old)
        result = _recorded(item)
        if not result.created:
            raise ExternalIdConflict(
                "This external id belongs to a decision that does not correct this one.",
                errors=[field_error("external_id", "conflict", "Already used for another decision.")],
            )
        new = result.decision
        previous = old.status
        old.status = Decision.Status.SUPERSEDED
        old.save(update_fields=["status"])
        audit.record(
            actor=actor,
            action="decision.superseded",
            target=old,
            data={
                "decision": str(old.pk),
                "public_reference": old.public_reference,
                "from": previous,
                "superseded_by": str(new.pk),
                "system": old.system.slug,
                "subject": old.subject.pseudonym,
            },
        )
    return result


def decision_human_confirm(
    *, decision: Decision, by: str, actor: Any, at: datetime | None = None
) -> Recorded:
    """A person approves an adverse decision that waits for a human (S2, S29).

    Appends the approval to the record's human involvement (the automation flags, derived from those events,
    are derived again: S7), moves the decision to ``pending_notice``, issues its portal access code and
    composes its notice. A person who disagrees with the machine records a correction instead
    (``decision_supersede`` with a human ``decision`` event).
    """
    if not (by or "").strip():
        raise ValidationFailed(
            "Say who approved it.", errors=[field_error("by", "required", "Staff reference.")]
        )
    with transaction.atomic():
        d = (
            Decision.objects.select_for_update()
            .select_related("system", "subject", "outcome", "version")
            .get(pk=decision.pk)
        )
        if d.status != Decision.Status.AWAITING_HUMAN:
            raise TransitionNotAllowed(
                f"A decision {d.get_status_display().lower()} needs no human approval."
            )
        when = at or clock.now()
        HumanInvolvement.objects.create(
            decision=d, kind=HumanInvolvement.Kind.APPROVAL, by=by.strip(), at=when
        )
        flags = policy.derive_automation(d.human_involvement.values_list("kind", flat=True))
        d.automation = flags.level
        d.automated_detection = flags.automated_detection
        d.automated_decision = flags.automated_decision
        d.status = Decision.Status.PENDING_NOTICE
        code = access_code_issue(d)
        d.save(
            update_fields=[
                "automation",
                "automated_detection",
                "automated_decision",
                "status",
                "access_code_hash",
            ]
        )
        audit.record(
            actor=actor,
            action="decision.human_confirmed",
            target=d,
            data={
                "decision": str(d.pk),
                "public_reference": d.public_reference,
                "by": by.strip(),
                "automation": d.automation,
                "subject": d.subject.pseudonym,
            },
        )
        _compose_notices([(d, code)], actor)
    return Recorded(index=0, decision=d, created=False, access_code=code)


__all__ = [
    "MAX_BATCH",
    "BatchTooLarge",
    "DecisionRefused",
    "ExternalIdConflict",
    "GoLiveRefused",
    "ItemResult",
    "Recorded",
    "SystemNotInScope",
    "VersionInUse",
    "access_code_issue",
    "canonical_hash",
    "decision_human_confirm",
    "decision_record",
    "decision_record_many",
    "decision_supersede",
    "feature_create",
    "impact_assessment_record",
    "outcome_create",
    "peer_review_record",
    "reason_code_create",
    "system_create",
    "system_go_live",
    "system_go_live_problems",
    "system_suspend",
    "system_update_policy",
    "version_create",
]
