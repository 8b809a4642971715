"""Reviewer figures (S23): does each reviewer look, or rubber-stamp the machine?

Per reviewer, over the reviews they finished in a window:

- ``cases``: first reviews decided (the reviewer's own outcome on an appeal).
- ``agreement``: share of those that upheld the machine's outcome.
- ``median_seconds`` / ``p90_seconds``: time from taking the case to deciding it (exact, per reviewer).
- ``blind_divergence``: where a blind assessment was recorded before the machine's outcome was shown,
  the share of assessments that differed from the machine's outcome. A reviewer who agrees with the
  machine far more once they see it than when they do not is leaning on it.
- ``second_reviews`` and ``second_not_confirmed``: four-eyes confirmations they gave or refused (S24).
- ``rubber_stamp``: at least ``OVERSIGHT_RUBBER_STAMP_MIN_CASES`` cases (default 20), agreement of at
  least ``OVERSIGHT_RUBBER_STAMP_MIN_AGREEMENT`` (default 0.95) and a median time under
  ``OVERSIGHT_RUBBER_STAMP_MAX_MEDIAN_SECONDS`` (default 180): near-total agreement in very short reviews.

Two aggregate queries and one for the reviewers' names, whatever the number of reviews.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, F, Q

from appeals.models import Review
from core.models import User
from oversight.metrics import percentiles


@dataclass(frozen=True)
class RubberStampRule:
    min_cases: int
    min_agreement: float
    max_median_seconds: float

    @classmethod
    def from_settings(cls) -> RubberStampRule:
        return cls(
            min_cases=int(getattr(settings, "OVERSIGHT_RUBBER_STAMP_MIN_CASES", 20)),
            min_agreement=float(getattr(settings, "OVERSIGHT_RUBBER_STAMP_MIN_AGREEMENT", 0.95)),
            max_median_seconds=float(getattr(settings, "OVERSIGHT_RUBBER_STAMP_MAX_MEDIAN_SECONDS", 180)),
        )


@dataclass(frozen=True)
class ReviewerRow:
    reviewer: User
    cases: int
    agreed: int
    judged: int  # cases with a recorded agreement (all first reviews decided through the service)
    median_seconds: float | None
    p90_seconds: float | None
    blind: int
    diverged: int
    second_reviews: int
    second_not_confirmed: int
    rubber_stamp: bool

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.judged if self.judged else None

    @property
    def blind_divergence(self) -> float | None:
        return self.diverged / self.blind if self.blind else None


def reviewer_figures(
    *,
    start: datetime,
    end: datetime,
    system_ids: Iterable[int] | None = None,
    rule: RubberStampRule | None = None,
) -> list[ReviewerRow]:
    """One row per reviewer who finished a review in [start, end), most cases first."""
    rule = rule or RubberStampRule.from_settings()
    reviews = Review.objects.filter(decided_at__gte=start, decided_at__lt=end)
    if system_ids is not None:
        reviews = reviews.filter(appeal__decision__system_id__in=list(system_ids))
    first = Q(stage=Review.Stage.FIRST)
    second = Q(stage=Review.Stage.SECOND)
    blind = first & Q(blind_outcome__isnull=False)
    rows = list(
        reviews.values("reviewer_id")
        .annotate(
            cases=Count("pk", filter=first),
            agreed=Count("pk", filter=first & Q(agrees_with_machine=True)),
            judged=Count("pk", filter=first & Q(agrees_with_machine__isnull=False)),
            blind=Count("pk", filter=blind),
            diverged=Count("pk", filter=blind & ~Q(blind_outcome_id=F("appeal__decision__outcome_id"))),
            second_reviews=Count("pk", filter=second),
            second_not_confirmed=Count("pk", filter=second & Q(confirmed=False)),
        )
        .order_by()
    )
    times = percentiles(reviews.filter(first), {"r": "reviewer_id"}, F("seconds_spent"))
    users = User.objects.in_bulk([r["reviewer_id"] for r in rows])
    out = []
    for r in rows:
        median, p90 = times.get((r["reviewer_id"],), [None, None])
        agreement = r["agreed"] / r["judged"] if r["judged"] else None
        flagged = (
            r["cases"] >= rule.min_cases
            and agreement is not None
            and agreement >= rule.min_agreement
            and median is not None
            and median < rule.max_median_seconds
        )
        out.append(
            ReviewerRow(
                reviewer=users[r["reviewer_id"]],
                cases=r["cases"],
                agreed=r["agreed"],
                judged=r["judged"],
                median_seconds=median,
                p90_seconds=p90,
                blind=r["blind"],
                diverged=r["diverged"],
                second_reviews=r["second_reviews"],
                second_not_confirmed=r["second_not_confirmed"],
                rubber_stamp=flagged,
            )
        )
    out.sort(key=lambda row: (-row.cases, row.reviewer.get_username()))
    return out
