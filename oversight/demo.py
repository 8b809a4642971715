"""The demo's fairness data and figures (``manage.py seed_oversight_demo``, after ``seed_demo``).

Gives a synthetic group attribute, ``age_band``, to about four subjects in five of every demo system, in
the separate fairness store (S32), then builds the figure rollups so the oversight pages have something to
show. The values are invented and say so in their source. For ``credit-limit`` they lean towards
"18-34" among people with adverse decisions, so the demo's fairness page shows what a flagged disparity
looks like; elsewhere they are drawn independently of the outcome.

Idempotent: subjects that already have a value keep it; a second run records nothing new.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from core import clock
from core.actors import Actor
from decisions.demo import StepReport
from decisions.models import Decision, DecisionSystem
from oversight import services
from oversight.models import GroupAttribute
from oversight.services import GroupValue

ACTOR = Actor.system("seed_oversight_demo")
ATTRIBUTE = "age_band"
BANDS = ("18-34", "35-64", "65+")
SHARE = 0.8
SOURCE = "Synthetic demo data: invented values, not real people"
LAWFUL_BASIS = "Demo only: invented values that show fairness analytics (S32); no real person is described."
SKEWED_SYSTEMS = ("credit-limit",)


@dataclass
class DemoReport:
    recorded: int
    subjects_with_data: int
    rollups: int


def _unit(text: str, salt: str) -> float:
    """A number in [0, 1) fixed by ``text``: the same person always gets the same draw."""
    digest = hashlib.sha256(f"{salt}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def band_for(pseudonym: str, *, adverse: bool, skewed: bool) -> str | None:
    if _unit(pseudonym, "share") >= SHARE:
        return None
    u = _unit(pseudonym, "band")
    weights = (0.6, 0.3, 0.1) if skewed and adverse else (0.3, 0.5, 0.2)
    edge = 0.0
    for band, w in zip(BANDS, weights, strict=True):
        edge += w
        if u < edge:
            return band
    return BANDS[-1]


def seed(*, refresh: bool = True) -> DemoReport:
    held = set(GroupAttribute.objects.filter(attribute=ATTRIBUTE).values_list("subject_pseudonym", flat=True))
    values: list[GroupValue] = []
    for system in DecisionSystem.objects.order_by("slug"):
        skewed = system.slug in SKEWED_SYSTEMS
        adverse_by_subject: dict[str, bool] = {}
        rows = Decision.objects.filter(system=system, supersedes__isnull=True).values_list(
            "subject__pseudonym", "adverse"
        )
        for pseudonym, adverse in rows:
            adverse_by_subject[pseudonym] = adverse_by_subject.get(pseudonym, False) or adverse
        for pseudonym, adverse in sorted(adverse_by_subject.items()):
            if pseudonym in held:
                continue
            band = band_for(pseudonym, adverse=adverse, skewed=skewed)
            if band is not None:
                values.append(GroupValue(pseudonym, band))
    recorded = 0
    if values:
        recorded = services.group_attributes_record(
            attribute=ATTRIBUTE, values=values, source=SOURCE, lawful_basis=LAWFUL_BASIS, actor=ACTOR
        )
    rollups = services.figures_refresh().rows if refresh else 0
    return DemoReport(
        recorded=recorded,
        subjects_with_data=GroupAttribute.objects.filter(attribute=ATTRIBUTE).count(),
        rollups=rollups,
    )


def demo_step(scale: float = 1.0) -> StepReport:
    """``seed_demo``'s oversight step (registered from ``OversightConfig.ready``, after the appeals' step):
    the fairness data and the figures, and where to look."""
    del scale  # one value per subject, whatever the number of subjects
    report = seed()
    site = settings.SITE_URL
    incidents, remedies = reverse("oversight:incidents"), reverse("oversight:remedies")
    month = clock.now().strftime("%Y-%m")
    return StepReport(
        lines=[
            f"fairness store: {report.recorded} new synthetic '{ATTRIBUTE}' value(s), "
            f"{report.subjects_with_data} subject(s) in all; figures: {report.rollups} rollup row(s) built"
        ],
        try_this=[
            f"See how each system performs: {site}{reverse('oversight:home')} (sign in as senior / "
            "senior-demo-pass; auditor / auditor-demo-pass reads everything, pseudonymised).",
            "Trip the stop switch: `.venv/bin/python manage.py demo_stop_switch` overturns a burst of "
            "appeals until the system suspends itself; then open the incident at "
            f"{site}{incidents} and a remedy campaign at {site}{remedies}.",
            "Export this month's transparency report: `.venv/bin/python manage.py transparency_report "
            f"--period {month} --format csv`; check every live system against the safeguards: "
            "`.venv/bin/python manage.py check --tag safeguards`.",
        ],
    )
