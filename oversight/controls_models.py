"""Oversight controls: stop-switch incidents (S29) and systemic remedy campaigns (S30).

Imported by ``oversight.models`` (so Django and the migrations see them); written only through
``oversight.stopswitch``, ``oversight.incidents`` and ``oversight.remedy``.

``Incident``
    Opened when the stop switch suspends a system: the version whose overturn rate went past the system's
    threshold, the figures that tripped it (rate, decided appeals, overturned and modified, over which
    window) and the reporting due date (AI Act Art. 73: 15 days, 2 when the incident is widespread), in the
    system's zone. ``open`` -> ``reported`` -> ``closed`` (``open`` -> ``closed`` with a reason when it was
    not reportable). ``resumed_at`` is when staff switched the system back on: the stop switch counts only
    appeals decided after it, so the appeals that tripped it do not trip it again at once.

``RemedyCampaign`` and ``RemedyItem``
    A reviewer found a defect in a reason code, a feature's data source or a version. The campaign lists
    every other live adverse decision it touched (one item each), what is done about each (re-scored under a
    corrected scorecard version, or re-reviewed by a person) and the result. It is complete when no item
    is left to resolve.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.ids import uuid7


class Incident(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        REPORTED = "reported", "Reported to the authority"
        CLOSED = "closed", "Closed"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    reference = models.CharField(max_length=20, unique=True)
    system = models.ForeignKey("decisions.DecisionSystem", on_delete=models.PROTECT, related_name="incidents")
    version = models.ForeignKey(
        "decisions.SystemVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    # What tripped the switch (the figures at the time; never recomputed).
    overturn_rate = models.DecimalField(max_digits=6, decimal_places=4)
    threshold = models.DecimalField(max_digits=4, decimal_places=3)
    sample = models.PositiveIntegerField(help_text="Appeals decided in the window.")
    overturned = models.PositiveIntegerField(default=0)
    modified = models.PositiveIntegerField(default=0)
    min_sample = models.PositiveIntegerField()
    window_days = models.PositiveIntegerField()
    window_start = models.DateTimeField()

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField()
    widespread = models.BooleanField(default=False)
    reporting_due = models.DateField(help_text="AI Act Art. 73: 15 days after opening, 2 if widespread.")
    reported_at = models.DateTimeField(null=True, blank=True)
    report_reference = models.CharField(max_length=200, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.TextField(blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)
    resumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["system", "opened_at"], name="incident_system_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "reported", "closed"]), name="incident_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class DefectKind(models.TextChoices):
    REASON_CODE = "reason_code", "A reason code"
    DATA_SOURCE = "data_source", "A feature's data source"
    VERSION = "version", "A system version"


class RemedyCampaign(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "In progress"
        COMPLETED = "completed", "Completed"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    reference = models.CharField(max_length=20, unique=True)
    system = models.ForeignKey("decisions.DecisionSystem", on_delete=models.PROTECT, related_name="+")
    defect_kind = models.CharField(max_length=12, choices=DefectKind.choices)
    # What is defective: exactly one of these, by kind (reason code; feature name + source; version).
    reason_code = models.ForeignKey(
        "decisions.ReasonCode", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    feature_name = models.CharField(max_length=80, blank=True)
    source = models.CharField(max_length=200, blank=True)
    version = models.ForeignKey(
        "decisions.SystemVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.TextField(help_text="What is wrong, in the reviewer's words.")
    # Where it was found (an appeal outcome), when it was.
    origin_appeal = models.ForeignKey(
        "appeals.Appeal", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Scorecard decisions are re-scored under this corrected version (same system); without one, re-reviewed.
    rescore_version = models.ForeignKey(
        "decisions.SystemVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(defect_kind="reason_code") & Q(reason_code__isnull=False))
                | (Q(defect_kind="data_source") & ~Q(feature_name="") & ~Q(source=""))
                | (Q(defect_kind="version") & Q(version__isnull=False)),
                name="remedy_campaign_defect_ref",
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class RemedyItem(models.Model):
    class Action(models.TextChoices):
        RESCORE = "rescore", "Re-score under the corrected scorecard"
        REREVIEW = "rereview", "Re-review by a person"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be re-scored"
        QUEUED = "queued", "Waiting for a person to re-review"
        CHANGED = "changed", "Decision changed"
        UNCHANGED = "unchanged", "Decision stands"
        MOOT = "moot", "Already replaced"

    campaign = models.ForeignKey(RemedyCampaign, on_delete=models.CASCADE, related_name="items")
    decision = models.ForeignKey("decisions.Decision", on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    new_decision = models.ForeignKey(
        "decisions.Decision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "decision"], name="remedy_item_once"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "queued", "changed", "unchanged", "moot"]),
                name="remedy_item_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["campaign", "status"], name="remedy_item_status_idx")]

    def __str__(self) -> str:
        # Read the raw key columns: the django-stubs plugin does not see these models' *_id attributes
        # (they are defined outside models.py), and __str__ must not query.
        return f"{self.__dict__.get('campaign_id')}: {self.__dict__.get('decision_id')}"

    @property
    def resolved(self) -> bool:
        return self.status in RESOLVED_ITEM_STATUSES


#: An item in one of these needs nothing more.
RESOLVED_ITEM_STATUSES: frozenset[str] = frozenset(
    {RemedyItem.Status.CHANGED, RemedyItem.Status.UNCHANGED, RemedyItem.Status.MOOT}
)
