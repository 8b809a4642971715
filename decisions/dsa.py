"""DSA statements of reasons for content systems (S31; DSA Art. 17 and 24(5)).

``statement_for(decision)`` maps one adverse content decision onto the EU transparency database's
submission fields (schema: decisions/schemas/dsa_statement_of_reasons.schema.json, a copy of
shared/reference). ``statement_problems`` checks a statement against the JSON Schema *and* its x-rules,
which JSON Schema cannot say; every statement is checked before it leaves, so an export is valid or it
does not happen.

Mapping
-------
- The outcome's ``dsa`` setting gives the static fields: ``{"statement": {...}, "category_by_reason":
  {code: category}, "account_restriction_days": n, "visibility_restriction_days": n,
  "content_date_feature": name}`` (a flat dict of statement fields is read the same way).
- ``category``: the statement's own, else the category of the first principal reason; further reasons'
  categories go to ``category_addition``.
- ``decision_facts``: the outcome and the principal reasons' texts (English): the version's reason-code
  wording, never the person's data. The same text explains an incompatible or illegal ground when the
  outcome does not give its own explanation.
- ``content_date``: the date input named by ``content_date_feature``, else the decision date;
  ``application_date``: the day the decision took effect, else the decision date (system's zone).
- ``automated_detection`` / ``automated_decision`` (S7): from ``Decision.automated_detection`` and
  ``Decision.automation``, which the recording service derives from the recorded human involvement.
- ``puid``: ``"contestable-" + decision id`` (a UUIDv7 without dashes). A decision is never deleted nor
  edited (a correction is a new decision with its own id), so a puid is never reused and never changes.

Which decisions: adverse decisions of the system, except those still waiting for a human decision (nothing
has been decided yet). Favourable decisions restrict nothing and need no statement.

Personal data: a statement carries none. Besides building only from the version's wording and coded
fields, ``statement_problems(..., personal=[...])`` refuses a statement containing any of the subject's
name, email, external reference or pseudonym.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from core import clock
from core.errors import ApplicationError
from decisions.explanations import localized
from decisions.models import Decision, DecisionSystem, Domain, SubjectContact

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "dsa_statement_of_reasons.schema.json"
MAX_BATCH = 100
PUID_PREFIX = "contestable-"
_HELPER_KEYS = {"statement", "category_by_reason", "account_restriction_days", "visibility_restriction_days"}
_HELPER_KEYS |= {"content_date_feature", "monetary_restriction_days", "service_restriction_days"}
_AUTOMATED_DECISION = {
    Decision.Automation.FULL: "AUTOMATED_DECISION_FULLY",
    Decision.Automation.PARTIAL: "AUTOMATED_DECISION_PARTIALLY",
    Decision.Automation.NONE: "AUTOMATED_DECISION_NOT_AUTOMATED",
}
FALLBACK_CATEGORY = "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"


class NotAContentSystem(ApplicationError):
    code = "dsa-not-content-system"
    status = 422
    title = "Only content moderation systems have DSA statements of reasons"


class InvalidStatement(ApplicationError):
    code = "dsa-invalid-statement"
    status = 500
    title = "A statement of reasons failed validation"


@cache
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


# ------------------------------------------------------------------------------------------ x-rules


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def x_rule_problems(statement: Mapping[str, Any], *, personal: Iterable[str] = ()) -> list[str]:
    """The schema's x-rules for one statement (the batch and uniqueness rules: ``batch_problems``)."""
    s = statement
    problems = []
    if not (
        s.get("decision_visibility") or s.get("decision_monetary") or s.get("decision_provision")
    ) and not s.get("decision_account"):
        problems.append("one of decision_visibility, decision_monetary, decision_provision, decision_account")
    for field, value, other in (
        ("decision_visibility", "DECISION_VISIBILITY_OTHER", "decision_visibility_other"),
        ("content_type", "CONTENT_TYPE_OTHER", "content_type_other"),
    ):
        if value in (s.get(field) or []) and not s.get(other):
            problems.append(f"{other} is required when {field} contains {value}")
    if s.get("decision_monetary") == "DECISION_MONETARY_OTHER" and not s.get("decision_monetary_other"):
        problems.append(
            "decision_monetary_other is required when decision_monetary is DECISION_MONETARY_OTHER"
        )
    ground = s.get("decision_ground")
    if ground == "DECISION_GROUND_ILLEGAL_CONTENT":
        for name in ("illegal_content_legal_ground", "illegal_content_explanation"):
            if not s.get(name):
                problems.append(f"{name} is required for DECISION_GROUND_ILLEGAL_CONTENT")
    if ground == "DECISION_GROUND_INCOMPATIBLE_CONTENT":
        for name in ("incompatible_content_ground", "incompatible_content_explanation"):
            if not s.get(name):
                problems.append(f"{name} is required for DECISION_GROUND_INCOMPATIBLE_CONTENT")
    elif s.get("incompatible_content_illegal") is not None:
        problems.append("incompatible_content_illegal goes only with DECISION_GROUND_INCOMPATIBLE_CONTENT")
    content_date, application_date = _date(s.get("content_date")), _date(s.get("application_date"))
    if content_date is None or content_date < dt.date(2000, 1, 1):
        problems.append("content_date must be a real date on or after 2000-01-01")
    if application_date is None or application_date < dt.date(2020, 1, 1):
        problems.append("application_date must be a real date on or after 2020-01-01")
    text = json.dumps(s, ensure_ascii=False).lower()
    for item in personal:
        if item and len(item.strip()) >= 3 and item.strip().lower() in text:
            problems.append("the statement contains personal data of the person concerned")
            break
    return problems


def statement_problems(statement: Mapping[str, Any], *, personal: Iterable[str] = ()) -> list[str]:
    """Everything wrong with one statement: JSON Schema errors, then x-rule breaches. Empty means valid."""
    errors = sorted(_validator().iter_errors(dict(statement)), key=lambda e: list(e.absolute_path))
    problems = [f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors]
    return problems + x_rule_problems(statement, personal=personal)


def batch_problems(statements: Sequence[Mapping[str, Any]], *, seen_puids: Iterable[str] = ()) -> list[str]:
    """The batch x-rules: 1 to 100 statements, and no puid given twice (nor one already submitted)."""
    problems = []
    if not 1 <= len(statements) <= MAX_BATCH:
        problems.append(f"a batch holds 1 to {MAX_BATCH} statements, not {len(statements)}")
    seen = set(seen_puids)
    for s in statements:
        puid = s.get("puid")
        if puid in seen:
            problems.append(f"puid {puid} is used twice")
        seen.add(str(puid))
    return problems


# ------------------------------------------------------------------------------------------ mapping


def puid_for(decision: Decision) -> str:
    return PUID_PREFIX + decision.pk.hex


def _settings(outcome_dsa: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(statement fields, helper settings) from an outcome's ``dsa`` setting."""
    helpers = {k: v for k, v in outcome_dsa.items() if k in _HELPER_KEYS}
    fields = dict(
        outcome_dsa.get("statement") or {k: v for k, v in outcome_dsa.items() if k not in _HELPER_KEYS}
    )
    known = set(schema()["properties"])
    return {k: v for k, v in fields.items() if k in known}, helpers


def _local(d: dt.datetime, system: DecisionSystem) -> dt.date:
    return clock.local_date(d, system.time_zone)


def statement_for(decision: Decision) -> dict[str, Any]:
    """The statement of reasons for one adverse content decision (see the module docstring)."""
    system = decision.system
    fields, helpers = _settings(decision.outcome.dsa or {})
    reasons = list(decision.reasons.all())
    by_reason: Mapping[str, str] = helpers.get("category_by_reason") or {}
    categories = [by_reason[r.reason_code.code] for r in reasons if r.reason_code.code in by_reason]
    statement: dict[str, Any] = dict(fields)
    statement.setdefault("category", categories[0] if categories else FALLBACK_CATEGORY)
    additions = sorted({c for c in categories if c != statement["category"]})
    if additions and not statement.get("category_addition"):
        statement["category_addition"] = additions
    texts = [localized(r.reason_code.text, "en") for r in reasons]
    outcome = localized(decision.outcome.label, "en") or decision.outcome.code
    facts = f"{outcome}. " + " ".join(t if t.endswith(".") else t + "." for t in texts if t)
    statement["decision_facts"] = facts.strip()[:5000]
    ground = statement.get("decision_ground")
    if ground == "DECISION_GROUND_INCOMPATIBLE_CONTENT":
        statement.setdefault("incompatible_content_ground", system.legal_basis[:500])
        if not statement.get("incompatible_content_explanation"):
            statement["incompatible_content_explanation"] = statement["decision_facts"][:2000]
    elif ground == "DECISION_GROUND_ILLEGAL_CONTENT":
        statement.setdefault("illegal_content_legal_ground", system.legal_basis[:500])
        if not statement.get("illegal_content_explanation"):
            statement["illegal_content_explanation"] = statement["decision_facts"][:2000]
    statement.setdefault("source_type", "SOURCE_VOLUNTARY")
    content_date = None
    feature = helpers.get("content_date_feature")
    if feature:
        value = next((i.value for i in decision.inputs.all() if i.feature.name == feature), None)
        content_date = _date(str(value)[:10]) if value else None
    statement["content_date"] = (content_date or _local(decision.decided_at, system)).isoformat()
    applied = _local(decision.effective_at or decision.decided_at, system)
    statement["application_date"] = applied.isoformat()
    for days_key, field in (
        ("account_restriction_days", "end_date_account_restriction"),
        ("visibility_restriction_days", "end_date_visibility_restriction"),
        ("monetary_restriction_days", "end_date_monetary_restriction"),
        ("service_restriction_days", "end_date_service_restriction"),
    ):
        if helpers.get(days_key):
            statement[field] = (applied + dt.timedelta(days=int(helpers[days_key]))).isoformat()
    statement["automated_detection"] = "Yes" if decision.automated_detection else "No"
    statement["automated_decision"] = _AUTOMATED_DECISION[Decision.Automation(decision.automation)]
    statement["puid"] = puid_for(decision)
    return statement


def personal_data_of(decision: Decision) -> list[str]:
    subject = decision.subject
    items = [subject.external_ref, subject.pseudonym]
    try:
        contact = subject.contact
    except SubjectContact.DoesNotExist:
        return items
    return [*items, contact.name, contact.email]


# ------------------------------------------------------------------------------------------- export


def require_content_system(system: DecisionSystem) -> None:
    if system.domain != Domain.CONTENT_MODERATION:
        raise NotAContentSystem(
            f"System {system.slug!r} decides about {system.get_domain_display().lower()}, not content: "
            "DSA statements of reasons exist only for content moderation systems."
        )


def exportable(system: DecisionSystem) -> Any:
    """The decisions of ``system`` that have a statement of reasons, oldest first (id order)."""
    require_content_system(system)
    return (
        Decision.objects.filter(system=system, adverse=True)
        .exclude(status=Decision.Status.AWAITING_HUMAN)
        .select_related("system", "outcome", "subject", "subject__contact")
        .prefetch_related("reasons__reason_code", "inputs__feature")
        .order_by("id")
    )


def checked_statements(decisions: Iterable[Decision]) -> list[dict[str, Any]]:
    """Statements for ``decisions``, each checked (schema, x-rules, no personal data); raises if one fails."""
    out, failures = [], []
    for d in decisions:
        s = statement_for(d)
        problems = statement_problems(s, personal=personal_data_of(d))
        if problems:
            failures.append({"field": s["puid"], "code": "invalid-statement", "message": "; ".join(problems)})
        out.append(s)
    if failures:
        raise InvalidStatement(f"{len(failures)} statement(s) failed validation.", errors=failures)
    return out


def statement_batches(system: DecisionSystem, size: int = MAX_BATCH) -> Iterator[list[dict[str, Any]]]:
    """Every statement of ``system``, validated, in batches of at most ``size`` (1..100)."""
    size = max(1, min(size, MAX_BATCH))
    batch: list[Decision] = []
    for d in exportable(system).iterator(chunk_size=size):
        batch.append(d)
        if len(batch) == size:
            yield checked_statements(batch)
            batch = []
    if batch:
        yield checked_statements(batch)
