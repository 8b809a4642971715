"""Oversight's own tables: figure rollups (issue 6) and the fairness store (S32).

``FigureRollup`` holds the figures of one system version (or, with ``version`` empty, of the whole system)
for one period: a UTC day, an ISO week (Monday to Sunday) or a calendar month. Rows are derived data,
recomputed by ``oversight.services.figures_refresh`` with aggregate SQL and never edited by hand; pages and
reports read them instead of scanning decisions. A period with nothing to count has no row.

What each count means (the one place it is written down; docs and pages quote it):

- ``decisions``: decisions *recorded* in the period that replace no other decision (corrections and appeal
  outcomes are new decision records, S5, and would otherwise count one person twice). ``adverse`` of those.
- ``automation_*``: the same decisions by their derived automation flag (S7): full, partial, none.
- ``notices_on_time``: of those decisions, the ones whose decision notice was first delivered by its due
  time (S12). ``notices_missed``: those whose due time had passed when the row was computed with no notice
  delivered by then (late, still undelivered, or never written because the notice was blocked).
  The rest are not yet due.
- ``appeals``: appeals *filed* in the period on the version's decisions.
- ``appeals_decided``, ``upheld``, ``overturned``, ``modified``: appeals whose outcome was recorded in the
  period, by outcome (after a second review where four eyes apply, S24).
- ``time_to_outcome_*``: from filing to outcome, in seconds, for the appeals decided in the period: exact
  median and 90th percentile (linear interpolation, as PostgreSQL's percentile_cont), and a histogram
  with the buckets of ``OUTCOME_TIME_BUCKET_DAYS``.
- ``sla_breaches``: appeals decided in the period after their due date (in the system's zone) or that were
  escalated as overdue on the way (S25).
- ``queue_depth``: appeals open at the end of the period (or now, for the current period): filed, and not
  yet decided, withdrawn, refused or closed.

``GroupAttribute`` is the separate, access-controlled store of group data for fairness figures (S32). It
holds a subject's pseudonym, never a name or reference, and is joined to decisions only inside aggregate
queries. Decisions and the audit log never carry these values: audit events about the store carry counts.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

#: Upper edges, in days, of the time-to-outcome histogram buckets: under 1 day, 1-3, 3-7, 7-14, 14-30,
#: 30-60 and 60 days or more. Fixed (not a setting): rows computed at different times must agree.
OUTCOME_TIME_BUCKET_DAYS: tuple[int, ...] = (1, 3, 7, 14, 30, 60)


class PeriodKind(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"


#: The additive counts of a rollup (summed over versions for a system, over days for longer periods).
COUNT_FIELDS: tuple[str, ...] = (
    "decisions",
    "adverse",
    "automation_full",
    "automation_partial",
    "automation_none",
    "notices_on_time",
    "notices_missed",
    "appeals",
    "appeals_decided",
    "upheld",
    "overturned",
    "modified",
    "sla_breaches",
)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class FigureRollup(models.Model):
    system = models.ForeignKey("decisions.DecisionSystem", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(
        "decisions.SystemVersion",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty: the figures of the whole system (every version).",
    )
    period_kind = models.CharField(max_length=5, choices=PeriodKind.choices)
    period_start = models.DateField()
    period_end = models.DateField(help_text="The day after the period's last day.")

    decisions = models.PositiveIntegerField(default=0)
    adverse = models.PositiveIntegerField(default=0)
    automation_full = models.PositiveIntegerField(default=0)
    automation_partial = models.PositiveIntegerField(default=0)
    automation_none = models.PositiveIntegerField(default=0)
    notices_on_time = models.PositiveIntegerField(default=0)
    notices_missed = models.PositiveIntegerField(default=0)
    appeals = models.PositiveIntegerField(default=0)
    appeals_decided = models.PositiveIntegerField(default=0)
    upheld = models.PositiveIntegerField(default=0)
    overturned = models.PositiveIntegerField(default=0)
    modified = models.PositiveIntegerField(default=0)
    sla_breaches = models.PositiveIntegerField(default=0)
    queue_depth = models.PositiveIntegerField(default=0)
    time_to_outcome_median = models.FloatField(null=True, blank=True, help_text="Seconds.")
    time_to_outcome_p90 = models.FloatField(null=True, blank=True, help_text="Seconds.")
    time_to_outcome_hist = models.JSONField(default=list, blank=True)

    refreshed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "period_kind", "period_start"],
                condition=Q(version__isnull=False),
                name="rollup_version_period_uniq",
            ),
            models.UniqueConstraint(
                fields=["system", "period_kind", "period_start"],
                condition=Q(version__isnull=True),
                name="rollup_system_period_uniq",
            ),
            models.CheckConstraint(
                condition=Q(period_kind__in=["day", "week", "month"]), name="rollup_period_kind_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["period_kind", "period_start"], name="rollup_period_idx"),
            models.Index(fields=["system", "period_kind", "period_start"], name="rollup_system_idx"),
        ]

    def __str__(self) -> str:
        scope = f"version {self.version_id}" if self.version_id else "all versions"
        return f"{self.system_id} {scope} {self.period_kind} {self.period_start}"

    # Rates: None where there is nothing to divide by (never a made-up zero).
    @property
    def adverse_rate(self) -> float | None:
        return _rate(self.adverse, self.decisions)

    @property
    def notices_settled(self) -> int:
        return self.notices_on_time + self.notices_missed

    @property
    def notices_on_time_rate(self) -> float | None:
        return _rate(self.notices_on_time, self.notices_settled)

    @property
    def appeal_rate(self) -> float | None:
        """Appeals filed per adverse decision recorded in the same period (only those are appealable)."""
        return _rate(self.appeals, self.adverse)

    @property
    def overturn_rate(self) -> float | None:
        return _rate(self.overturned, self.appeals_decided)

    @property
    def modification_rate(self) -> float | None:
        return _rate(self.modified, self.appeals_decided)

    @property
    def automated_share(self) -> float | None:
        """Share of decisions taken fully by machine (S7: no recorded human step)."""
        return _rate(self.automation_full, self.decisions)

    @property
    def human_share(self) -> float | None:
        """Share of decisions in which a person took part (partly or not automated)."""
        return _rate(self.automation_partial + self.automation_none, self.decisions)


class FiguresState(models.Model):
    """One row: when the figures were last refreshed, and whether a full build has ever run.

    ``fairness_built_at`` is cleared whenever the group data changes (``GroupAttribute`` is written or
    erased): every day's fairness counts may then be wrong, and the next refresh rebuilds them all."""

    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    full_build_at = models.DateTimeField(null=True, blank=True)
    fairness_built_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"figures refreshed {self.last_refreshed_at}"


class FairnessRollup(models.Model):
    """S32: per system, group attribute, group value and UTC day, the counts the fairness figures need.

    Decisions recorded that day by people with that value (not counting replacements, as in
    ``FigureRollup``), the adverse ones, and appeals decided that day and overturned. Counts only: never a
    person. Rebuilt with the figures, and wholesale when the group data changes."""

    system = models.ForeignKey("decisions.DecisionSystem", on_delete=models.CASCADE, related_name="+")
    attribute = models.CharField(max_length=60)
    value = models.CharField(max_length=120)
    day = models.DateField()
    decisions = models.PositiveIntegerField(default=0)
    adverse = models.PositiveIntegerField(default=0)
    appeals_decided = models.PositiveIntegerField(default=0)
    overturned = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["system", "attribute", "value", "day"], name="fairness_rollup_uniq"
            ),
        ]
        indexes = [models.Index(fields=["system", "day"], name="fairness_rollup_day_idx")]

    def __str__(self) -> str:
        return f"{self.system_id} {self.attribute}={self.value} {self.day}"


class GroupAttribute(models.Model):
    """S32: one group attribute of one subject (by pseudonym), lawfully held for fairness analytics only.

    Access-controlled: only users with this model's permissions (set in the admin) see the records; staff
    with oversight access see aggregate figures, never a person's value. No foreign key to the subject, so
    the store can live, be exported and be erased on its own.
    """

    subject_pseudonym = models.CharField(max_length=40)
    attribute = models.CharField(max_length=60, help_text='e.g. "age_band".')
    value = models.CharField(max_length=120)
    source = models.CharField(max_length=200, help_text="Where the value comes from.")
    lawful_basis = models.TextField(help_text="Why the institution may hold it (e.g. GDPR Art. 9(2)(g)).")
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject_pseudonym", "attribute"], name="group_attribute_subject_uniq"
            ),
        ]
        indexes = [models.Index(fields=["attribute", "value"], name="group_attribute_value_idx")]

    def __str__(self) -> str:
        return f"{self.attribute} of {self.subject_pseudonym}"


# The oversight controls (stop-switch incidents S29, remedy campaigns S30) live in their own module.
from oversight.controls_models import DefectKind, Incident, RemedyCampaign, RemedyItem  # noqa: E402, F401
