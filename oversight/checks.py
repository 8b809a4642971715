"""``python manage.py check --tag safeguards``: every deciding system's configuration and the notice templates
against the safeguards catalogue. One message per problem, each with an id and a hint naming the S-number;
errors make the command exit non-zero.

Only with the tag
    Django runs every registered check on ``runserver``, ``migrate`` and a plain ``check``, and tells a check
    nothing about the tags asked for. These checks read the database (which ``migrate`` may not have built
    yet) and render templates, so they run only when asked: ``oversight/management/commands/check.py``
    (the ``check`` command, extended) switches them on for the duration of a run whose ``--tag`` includes
    ``safeguards``; otherwise the registered function returns nothing. ``run_safeguard_checks()`` runs them
    directly (tests, pages).

What is checked, for each live or suspended system
    safeguards.E001  S1  a registration field is empty (owner, purpose, legal basis, public explanation)
    safeguards.E002  S1  no named contact for human review, or no way to reach them (email or phone)
    safeguards.E003  S1  no impact assessment
    safeguards.E004  S1  the latest assessment's level is not the system's level
    safeguards.E005  S2  fewer peer reviews than the level needs (II-III: 1, IV: 2)
    safeguards.E006  S17 appeal window: content moderation below 184 days (DSA Art. 20(1)); 0 elsewhere
    safeguards.E007  S13 a notice template the system sends is missing or incomplete in a shipped language
                         (the decisions completeness gate and coverage check, on specimen content with the
                         system's own contact and routes)
    safeguards.E008  S14 fewer than two languages shipped, or a shipped language without phrases or
                         appeal or remedy notice templates
    safeguards.E009  S13 no external route (ombudsman, out-of-court body, court)
    safeguards.E010  S13 content moderation without an out-of-court body and a court (DSA Art. 17(3)(f))
    safeguards.E011  S29 stop-switch threshold not strictly between 0 and 1
    safeguards.E012  S29 stop-switch minimum sample below 1
    safeguards.E013  S28 retention shorter than 6 months, or than the domain's rule (credit: 25 months)
    safeguards.E014  S2  impact level III-IV and no reviewer in the system's queues with current training
    safeguards.W001  S14 a notice template the system sends reads above grade 8
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import checks
from django.db.models import Exists, OuterRef, Q
from django.template import TemplateDoesNotExist, engines

from core import clock
from decisions.readability import WARN_ABOVE_GRADE

TAG = "safeguards"
MIN_RETENTION_DAYS = 184  # 6 months (the longest 6 calendar months: July to December)
#: Domain rules, in days: Reg. B 12 CFR 1002.12(b) keeps credit records 25 months (the longest 25 months).
DOMAIN_RETENTION_DAYS = {"credit": 762}
CONTENT_MIN_APPEAL_WINDOW_DAYS = 184  # DSA Art. 20(1): at least six months (Mozilla add-ons use 184 days)

_requested: contextvars.ContextVar[bool] = contextvars.ContextVar("safeguards_requested", default=False)


@contextlib.contextmanager
def requested() -> Iterator[None]:
    """Switch the safeguards checks on for the duration of a ``check --tag safeguards`` run."""
    token = _requested.set(True)
    try:
        yield
    finally:
        _requested.reset(token)


def safeguards_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The registered check (tag ``safeguards``): silent unless the run asked for the tag."""
    if not _requested.get():
        return []
    return run_safeguard_checks()


def register() -> None:
    checks.register(safeguards_check, TAG)


def _e(n: int, msg: str, s: str, hint: str, obj: Any) -> checks.Error:
    return checks.Error(msg, hint=f"{hint} ({s})", obj=obj, id=f"safeguards.E{n:03d}")


def run_safeguard_checks() -> list[checks.CheckMessage]:
    """Every problem of every live or suspended system, then the project-wide language checks."""
    from decisions.models import DecisionSystem

    out: list[checks.CheckMessage] = []
    out += _languages()
    systems = list(
        DecisionSystem.objects.filter(
            status__in=[DecisionSystem.Status.LIVE, DecisionSystem.Status.SUSPENDED]
        ).order_by("slug")
    )
    warned: set[tuple[str, str]] = set()
    report = _readability_report() if systems else []
    for system in systems:
        out += _registration(system)
        out += _assessment(system)
        out += _appeal_window(system)
        out += _routes(system)
        out += _stop_switch(system)
        out += _retention(system)
        out += _training(system)
        out += _templates(system)
        out += _readability(system, report, warned)
    return out


# ------------------------------------------------------------------------------------------ S1, S2


def _registration(system: Any) -> list[checks.CheckMessage]:
    out: list[checks.CheckMessage] = []
    fields = {
        "owner_organisation": "the owning organisation",
        "purpose": "the purpose",
        "legal_basis": "the legal or contractual basis",
        "public_explanation": "the public explanation of how it works",
    }
    for name, what in fields.items():
        if not str(getattr(system, name) or "").strip():
            out.append(
                _e(1, f"[{system.slug}] {what} is not recorded.", "S1", f"Record {what} ({name}).", system)
            )
    if not str(system.review_contact_name or "").strip():
        out.append(
            _e(
                2,
                f"[{system.slug}] no named contact for human review.",
                "S1",
                "Record review_contact_name: the person or team people can ask for human review.",
                system,
            )
        )
    if not (str(system.review_contact_email or "").strip() or str(system.review_contact_phone or "").strip()):
        out.append(
            _e(
                2,
                f"[{system.slug}] the review contact cannot be reached: no email and no phone.",
                "S1",
                "Record review_contact_email or review_contact_phone.",
                system,
            )
        )
    return out


def _assessment(system: Any) -> list[checks.CheckMessage]:
    from decisions import policy

    out: list[checks.CheckMessage] = []
    latest = system.assessments.order_by("-approved_on", "-id").first()
    if latest is None:
        out.append(
            _e(
                3,
                f"[{system.slug}] no impact assessment is recorded.",
                "S1",
                "Record the impact assessment (level, approver, date) before it decides about anyone.",
                system,
            )
        )
    elif latest.level != system.impact_level:
        out.append(
            _e(
                4,
                f"[{system.slug}] the latest impact assessment gives level {latest.get_level_display()}, "
                f"the system is set to {system.get_impact_level_display()}.",
                "S1",
                "Record a new assessment or correct the system's impact level so that they match.",
                system,
            )
        )
    needed = policy.peer_reviews_required(system.impact_level)
    have = system.peer_reviews.count()
    if have < needed:
        out.append(
            _e(
                5,
                f"[{system.slug}] impact level {system.get_impact_level_display()} needs {needed} peer "
                f"review(s); {have} recorded.",
                "S2",
                "Record the missing peer review(s).",
                system,
            )
        )
    return out


def _training(system: Any) -> list[checks.CheckMessage]:
    from appeals.models import QueueMembership, ReviewerTraining
    from appeals.selectors import REVIEWER_GROUPS, TRAINING_FROM_LEVEL
    from core.models import User

    if system.impact_level < TRAINING_FROM_LEVEL:
        return []
    today = clock.now().date()
    trained = ReviewerTraining.objects.filter(user=OuterRef("pk"), completed_on__lte=today).filter(
        (Q(expires_on__isnull=True) | Q(expires_on__gte=today)) & (Q(system__isnull=True) | Q(system=system))
    )
    in_queue = QueueMembership.objects.filter(user=OuterRef("pk"), queue__system=system)
    ok = (
        User.objects.filter(is_active=True, groups__name__in=REVIEWER_GROUPS)
        .filter(Exists(trained), Exists(in_queue))
        .exists()
    )
    if ok:
        return []
    return [
        _e(
            14,
            f"[{system.slug}] impact level {system.get_impact_level_display()}: no reviewer in the system's "
            "queues has current recorded training, so no appeal can be decided.",
            "S2",
            "Record training for the reviewers (appeals.services.reviewer_training_record) and add them to "
            "the system's queue.",
            system,
        )
    ]


# ------------------------------------------------------------------------------------------ S13, S17


def _appeal_window(system: Any) -> list[checks.CheckMessage]:
    days = int(system.appeal_window_days or 0)
    if system.domain == "content_moderation" and days < CONTENT_MIN_APPEAL_WINDOW_DAYS:
        return [
            _e(
                6,
                f"[{system.slug}] the appeal window is {days} days; content moderation must allow at least "
                f"{CONTENT_MIN_APPEAL_WINDOW_DAYS} days (six months, DSA Art. 20(1)).",
                "S17",
                f"Set appeal_window_days to {CONTENT_MIN_APPEAL_WINDOW_DAYS} or more.",
                system,
            )
        ]
    if days <= 0:
        return [
            _e(
                6,
                f"[{system.slug}] the appeal window is {days} days: nobody could appeal.",
                "S17",
                "Set appeal_window_days above 0.",
                system,
            )
        ]
    return []


def _routes(system: Any) -> list[checks.CheckMessage]:
    routes = [
        r for r in system.external_routes or [] if isinstance(r, dict) and str(r.get("name") or "").strip()
    ]
    if not routes:
        return [
            _e(
                9,
                f"[{system.slug}] no external route (ombudsman, out-of-court body, court) is recorded.",
                "S13",
                'Record external_routes: [{"kind": "ombudsman|odr|court", "name": ..., "url": ...}].',
                system,
            )
        ]
    if system.domain == "content_moderation":
        kinds = {r.get("kind") for r in routes}
        missing = [
            label
            for kind, label in (("odr", "an out-of-court body"), ("court", "a court"))
            if kind not in kinds
        ]
        if missing:
            return [
                _e(
                    10,
                    f"[{system.slug}] a content moderation notice must name {' and '.join(missing)} "
                    "(DSA Art. 17(3)(f)).",
                    "S13",
                    'Add external routes of kind "odr" and "court".',
                    system,
                )
            ]
    return []


def shipped_languages() -> list[str]:
    return [code for code, _name in getattr(settings, "LANGUAGES", [])]


def _languages() -> list[checks.CheckMessage]:
    from appeals import notices as appeal_notices
    from decisions import notices as decision_notices
    from oversight import remedy

    out: list[checks.CheckMessage] = []
    langs = shipped_languages()
    if len(langs) < 2:
        out.append(
            _e(
                8,
                f"{len(langs)} language(s) shipped ({', '.join(langs) or 'none'}): at least two are needed.",
                "S14",
                "List the languages in settings.LANGUAGES, with their notice templates and phrases.",
                None,
            )
        )
    engine = engines["django"]
    for lang in langs:
        if lang not in decision_notices.PHRASES or lang not in appeal_notices.PHRASES:
            out.append(
                _e(
                    8,
                    f"the notice phrases have no '{lang}' text.",
                    "S14",
                    f"Add '{lang}' to decisions.notices.PHRASES and appeals.notices.PHRASES.",
                    None,
                )
            )
        files = [
            t.file(lang, part)
            for t in appeal_notices.TEMPLATES.values()
            for part in ("subject.txt", "txt", "html")
        ]
        files += [
            remedy.template_file(key, lang, part)
            for key in remedy.NOTICE_ELEMENTS
            for part in ("subject.txt", "txt", "html")
        ]
        for name in files:
            try:
                engine.get_template(name)
            except TemplateDoesNotExist:
                out.append(
                    _e(8, f"the notice template {name} is missing.", "S14", f"Write it in '{lang}'.", None)
                )
    return out


def _system_templates(system: Any) -> list[str]:
    from decisions import notices as decision_notices

    domain_key = decision_notices._DOMAIN_TEMPLATE.get(system.domain, "generic/decision")
    return [domain_key, "generic/favourable"]


def _system_elements(system: Any, key: str, lang: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Specimen content for ``key``, with what the system itself supplies: contact, routes, ground."""
    from decisions import notices as decision_notices

    elements, info = decision_notices.specimen_elements(key, lang)
    elements["_facts"] = {**elements["_facts"], "domain": system.domain}
    elements["human_contact"] = {
        "name": system.review_contact_name,
        "email": system.review_contact_email,
        "phone": system.review_contact_phone,
    }
    elements["external_routes"] = decision_notices._routes(system)
    elements["legal_ground"] = decision_notices.PHRASES[lang]["legal_ground"].format(basis=system.legal_basis)
    info = {**info, "organisation": system.owner_organisation, "system": system.name}
    return elements, info


def _templates(system: Any) -> list[checks.CheckMessage]:
    from decisions import notices as decision_notices

    out: list[checks.CheckMessage] = []
    engine = engines["django"]
    for key in _system_templates(system):
        template = decision_notices.TEMPLATES[key]
        for lang in shipped_languages():
            absent = []
            for part in ("subject.txt", "txt", "html"):
                try:
                    engine.get_template(template.file(lang, part))
                except TemplateDoesNotExist:
                    absent.append(template.file(lang, part))
            if absent or lang not in decision_notices.PHRASES:
                out.append(
                    _e(
                        7,
                        f"[{system.slug}] the {key} notice has no '{lang}' version "
                        f"({', '.join(absent) or 'no phrases'}).",
                        "S13",
                        f"Write the {key} templates and phrases in '{lang}'.",
                        system,
                    )
                )
                continue
            elements, info = _system_elements(system, key, lang)
            try:
                decision_notices.render_notice(key, lang, elements, info)
            except decision_notices.NoticeIncomplete as exc:
                # Contact and routes have their own checks (E002, E009, E010): one message per problem.
                missing = [m for m in exc.missing if not m.startswith(("external_routes", "human_contact"))]
                if missing:
                    out.append(
                        _e(
                            7,
                            f"[{system.slug}] the {key} notice in '{lang}' would not state: "
                            f"{', '.join(missing)}.",
                            "S13",
                            "Complete the template (every element must appear in the text and the HTML) and "
                            "the system's settings.",
                            system,
                        )
                    )
    return out


def _readability(system: Any, report: list[Any], warned: set[tuple[str, str]]) -> list[checks.CheckMessage]:
    from decisions import notices as decision_notices

    wanted = {decision_notices.TEMPLATES[key].label for key in _system_templates(system)}
    out: list[checks.CheckMessage] = []
    for r in report:
        if r.template in wanted and r.warning and (r.template, r.language) not in warned:
            warned.add((r.template, r.language))
            out.append(
                checks.Warning(
                    f"the {r.template} notice in '{r.language}' reads at grade {r.grade:.1f} "
                    f"(above {WARN_ABOVE_GRADE:g}); used by {system.slug}.",
                    hint="Shorter sentences and everyday words: aim for a reading age of about 9 (S14).",
                    obj=None,
                    id="safeguards.W001",
                )
            )
    return out


def _readability_report() -> list[Any]:
    """The decisions readability report, or nothing while a template cannot render (E007 says which)."""
    from decisions import notices as decision_notices

    try:
        return list(decision_notices.template_readability_report())
    except (decision_notices.NoticeIncomplete, TemplateDoesNotExist):
        return []


# ------------------------------------------------------------------------------------------ S28, S29, S33


def _stop_switch(system: Any) -> list[checks.CheckMessage]:
    out: list[checks.CheckMessage] = []
    rate = Decimal(system.stop_switch_overturn_rate if system.stop_switch_overturn_rate is not None else 0)
    if not (Decimal(0) < rate < Decimal(1)):
        out.append(
            _e(
                11,
                f"[{system.slug}] the stop-switch threshold is {rate}: it must be above 0 and below 1, or "
                "the switch can never trip (or trips on anything).",
                "S29",
                "Set stop_switch_overturn_rate, e.g. 0.25.",
                system,
            )
        )
    if int(system.stop_switch_min_sample or 0) < 1:
        out.append(
            _e(
                12,
                f"[{system.slug}] the stop-switch minimum sample is {system.stop_switch_min_sample}.",
                "S29",
                "Set stop_switch_min_sample to 1 or more (the default is 20).",
                system,
            )
        )
    return out


def required_retention_days(domain: str) -> int:
    return max(MIN_RETENTION_DAYS, DOMAIN_RETENTION_DAYS.get(domain, 0))


def _retention(system: Any) -> list[checks.CheckMessage]:
    need = required_retention_days(system.domain)
    if int(system.retention_days or 0) >= need:
        return []
    rule = "25 months (Reg. B)" if system.domain == "credit" else "6 months"
    return [
        _e(
            13,
            f"[{system.slug}] records are kept {system.retention_days} days; the {system.domain} rule needs "
            f"at least {need} days ({rule}).",
            "S28",
            f"Set retention_days to {need} or more.",
            system,
        )
    ]
