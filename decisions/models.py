"""Decision systems, their versions, subjects and the decision record (S1-S9)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.ids import uuid7


class Domain(models.TextChoices):
    CREDIT = "credit", "Credit"
    PUBLIC_BENEFITS = "public_benefits", "Public benefits"
    CONTENT_MODERATION = "content_moderation", "Content moderation"
    EMPLOYMENT = "employment", "Employment"
    OTHER = "other", "Other"


class ImpactLevel(models.IntegerChoices):
    I = 1, "I (little to no impact)"  # noqa: E741
    II = 2, "II (moderate impact)"
    III = 3, "III (high impact)"
    IV = 4, "IV (very high impact)"


class DataContext(models.TextChoices):
    """Where a feature's data comes from. S3: each domain accepts only related contexts (decisions.policy)."""

    IDENTITY = "identity", "Identity and eligibility"
    FINANCIAL = "financial", "Financial accounts and transactions"
    CREDIT_HISTORY = "credit_history", "Credit history"
    INCOME = "income", "Income"
    EMPLOYMENT = "employment", "Employment record"
    HOUSEHOLD = "household", "Household composition"
    BENEFITS_CLAIM = "benefits_claim", "Benefit claim"
    CONTENT = "content", "The content itself"
    ACCOUNT_ACTIVITY = "account_activity", "Activity on this service"
    EDUCATION = "education", "Education and qualifications"
    SOCIAL_BEHAVIOUR = "social_behaviour", "Social behaviour elsewhere"
    HEALTH = "health", "Health"
    LOCATION = "location", "Location"
    OTHER = "other", "Other"


class DecisionSystem(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        LIVE = "live", "Live"
        SUSPENDED = "suspended", "Suspended"

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    owner_organisation = models.CharField(max_length=200)
    review_contact_name = models.CharField(max_length=200)
    review_contact_email = models.EmailField()
    review_contact_phone = models.CharField(max_length=50, blank=True)
    purpose = models.TextField()
    legal_basis = models.TextField()
    domain = models.CharField(max_length=30, choices=Domain.choices)
    impact_level = models.PositiveSmallIntegerField(choices=ImpactLevel.choices)
    public_explanation = models.TextField(blank=True, help_text="How the system works, in plain words (S4).")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    time_zone = models.CharField(max_length=64, default="Europe/Brussels")
    # Policy settings (safe defaults from SAFEGUARDS.md).
    appeal_window_days = models.PositiveIntegerField(default=184)
    notice_due_days = models.PositiveIntegerField(default=30)
    notice_period_days = models.PositiveIntegerField(
        default=0, help_text="Days after delivery before effect."
    )
    stay_on_appeal = models.BooleanField(default=True)
    blind_review = models.BooleanField(default=False)
    four_eyes = models.BooleanField(default=False)
    review_due_days = models.PositiveIntegerField(default=30)
    oral_hearing_allowed = models.BooleanField(default=False)
    stop_switch_overturn_rate = models.DecimalField(max_digits=4, decimal_places=3, default=0.25)
    stop_switch_min_sample = models.PositiveIntegerField(default=20)
    retention_days = models.PositiveIntegerField(default=25 * 31)
    external_routes = models.JSONField(
        default=list, blank=True, help_text='[{"kind": "ombudsman|odr|court", "name": ..., "url": ...}]'
    )
    api_clients = models.ManyToManyField("core.ApiClient", related_name="systems", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    went_live_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name

    @property
    def requires_four_eyes(self) -> bool:
        return self.four_eyes or self.impact_level >= ImpactLevel.III

    @property
    def requires_human_decision_for_adverse(self) -> bool:
        """S2: at levels III-IV an adverse outcome takes effect only after a recorded human decision."""
        return self.impact_level >= ImpactLevel.III


class ImpactAssessment(models.Model):
    """S1: the assessment a system needs before it can go live. Level follows Canada's AIA score bands."""

    system = models.ForeignKey(DecisionSystem, on_delete=models.CASCADE, related_name="assessments")
    score = models.PositiveIntegerField()
    max_score = models.PositiveIntegerField()
    level = models.PositiveSmallIntegerField(choices=ImpactLevel.choices)
    approver = models.CharField(max_length=200)
    approved_on = models.DateField()
    summary = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.system} assessment {self.approved_on} (level {self.level})"


class PeerReview(models.Model):
    """S2: levels II-III need one recorded peer review, level IV two."""

    system = models.ForeignKey(DecisionSystem, on_delete=models.CASCADE, related_name="peer_reviews")
    reviewer = models.CharField(max_length=200)
    organisation = models.CharField(max_length=200)
    reviewed_on = models.DateField()
    summary = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.system} peer review by {self.organisation} ({self.reviewed_on})"


class SystemVersion(models.Model):
    system = models.ForeignKey(DecisionSystem, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=40)
    score_min = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    score_max = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    threshold = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    higher_is_better = models.BooleanField(default=True)
    # Public explanation fields (S4, S8), per language: {"en": "...", "es": "..."}.
    logic = models.JSONField(default=dict, blank=True)
    performance = models.JSONField(default=dict, blank=True)
    fairness = models.JSONField(default=dict, blank=True)
    # A built-in transparent scorecard (decisions.scorecards), or empty when the integrator scores.
    scorecard = models.JSONField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["system", "version"], name="version_uniq")]

    def __str__(self) -> str:
        return f"{self.system.slug} {self.version}"


class Feature(models.Model):
    class DataType(models.TextChoices):
        NUMBER = "number"
        INTEGER = "integer"
        BOOLEAN = "boolean"
        CATEGORY = "category"
        TEXT = "text"
        DATE = "date"

    version = models.ForeignKey(SystemVersion, on_delete=models.CASCADE, related_name="features")
    name = models.CharField(max_length=80)
    label = models.JSONField(default=dict, help_text='{"en": ..., "es": ...}')
    data_type = models.CharField(max_length=12, choices=DataType.choices)
    unit = models.CharField(max_length=30, blank=True)
    source = models.CharField(max_length=200)
    context = models.CharField(max_length=30, choices=DataContext.choices)
    actionable = models.BooleanField(default=False)
    protected = models.BooleanField(default=False)
    legal_basis = models.TextField(blank=True, help_text="Required to use a protected attribute (S3).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "name"], name="feature_uniq")]

    def __str__(self) -> str:
        return self.name


class ReasonCode(models.Model):
    version = models.ForeignKey(SystemVersion, on_delete=models.CASCADE, related_name="reason_codes")
    code = models.CharField(max_length=40)
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="reason_codes")
    text = models.JSONField(default=dict, help_text='Plain-language text: {"en": ..., "es": ...}')

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "code"], name="reason_code_uniq")]

    def __str__(self) -> str:
        return self.code


class Outcome(models.Model):
    version = models.ForeignKey(SystemVersion, on_delete=models.CASCADE, related_name="outcomes")
    code = models.CharField(max_length=40)
    label = models.JSONField(default=dict)
    effect = models.JSONField(default=dict, help_text="What it means for the person, per language.")
    adverse = models.BooleanField()
    # For content systems: how the outcome maps onto the DSA statement of reasons fields.
    dsa = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "code"], name="outcome_uniq")]

    def __str__(self) -> str:
        return self.code


class Subject(models.Model):
    """The person decided about, known everywhere by ``pseudonym``. Contact data lives in SubjectContact."""

    system = models.ForeignKey(DecisionSystem, on_delete=models.PROTECT, related_name="subjects")
    external_ref = models.CharField(max_length=200)
    pseudonym = models.CharField(max_length=40, unique=True)
    language = models.CharField(max_length=8, default="en")
    created_at = models.DateTimeField(auto_now_add=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["system", "external_ref"], name="subject_ref_uniq")]

    def __str__(self) -> str:
        return self.pseudonym


class SubjectContact(models.Model):
    """Personal data, kept apart so that retention (S33) can erase it without touching anything else."""

    subject = models.OneToOneField(Subject, on_delete=models.CASCADE, related_name="contact")
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)

    def __str__(self) -> str:
        return f"contact of {self.subject_id}"  # never the personal data itself


class Decision(models.Model):
    class Status(models.TextChoices):
        PENDING_NOTICE = "pending_notice", "Pending notice"
        AWAITING_HUMAN = "awaiting_human", "Waiting for a human decision"
        EFFECTIVE = "effective", "In effect"
        STAYED = "stayed", "Suspended while appealed"
        REVERSED = "reversed", "Reversed"
        SUPERSEDED = "superseded", "Superseded"

    class Automation(models.TextChoices):
        FULL = "full", "Fully automated"
        PARTIAL = "partial", "Partly automated"
        NONE = "none", "Not automated"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    system = models.ForeignKey(DecisionSystem, on_delete=models.PROTECT, related_name="decisions")
    version = models.ForeignKey(SystemVersion, on_delete=models.PROTECT, related_name="decisions")
    external_id = models.CharField(max_length=200)
    public_reference = models.CharField(max_length=20, unique=True)
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="decisions")
    outcome = models.ForeignKey(Outcome, on_delete=models.PROTECT, related_name="decisions")
    adverse = models.BooleanField()
    score = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    score_min = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    score_max = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    threshold = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    band = models.CharField(max_length=40, blank=True)
    automation = models.CharField(max_length=8, choices=Automation.choices)
    automated_detection = models.BooleanField()
    automated_decision = models.BooleanField()
    inputs_snapshot = models.JSONField()
    inputs_hash = models.CharField(max_length=64)
    payload_hash = models.CharField(max_length=64, help_text="Hash of the submitted record, for idempotency.")
    counterfactuals = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, db_index=True)
    decided_at = models.DateTimeField()
    recorded_at = models.DateTimeField(db_index=True)
    effective_at = models.DateTimeField(null=True, blank=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    recorded_by = models.ForeignKey(
        "core.ApiClient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    access_code_hash = models.CharField(max_length=128, blank=True, help_text="Portal secret (hashed).")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["system", "external_id"], name="decision_external_id_uniq"),
        ]
        indexes = [
            models.Index(fields=["system", "recorded_at"], name="decision_system_time_idx"),
            models.Index(fields=["subject", "recorded_at"], name="decision_subject_time_idx"),
            models.Index(
                fields=["status"], condition=Q(status="pending_notice"), name="decision_pending_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.public_reference


class DecisionInput(models.Model):
    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="inputs")
    feature = models.ForeignKey(Feature, on_delete=models.PROTECT, related_name="+")
    value = models.JSONField()
    source = models.CharField(max_length=200)
    as_of = models.DateField(null=True, blank=True)
    disputed = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["decision", "feature"], name="decision_input_uniq")]

    def __str__(self) -> str:
        return f"input {self.feature_id} of {self.decision_id}"


class DecisionReason(models.Model):
    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="reasons")
    reason_code = models.ForeignKey(ReasonCode, on_delete=models.PROTECT, related_name="+")
    feature = models.ForeignKey(Feature, on_delete=models.PROTECT, related_name="+")
    rank = models.PositiveSmallIntegerField()
    weight = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)

    class Meta:
        ordering = ["rank"]

    def __str__(self) -> str:
        return f"reason {self.rank} of {self.decision_id}"


class HumanInvolvement(models.Model):
    """S7: recorded human steps; automation flags are derived from these, never typed in."""

    class Kind(models.TextChoices):
        DETECTION = "detection", "A person flagged or detected the case"
        REVIEW = "review", "A person reviewed the machine's proposal"
        DECISION = "decision", "A person took the decision"
        APPROVAL = "approval", "A person approved the decision"

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="human_involvement")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    by = models.CharField(
        max_length=120, help_text="The institution's staff reference (matches User.staff_ref)."
    )
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.kind} by {self.by}"


class Explanation(models.Model):
    """S8: the layered explanation, stored as structured elements; rendered per language on demand."""

    decision = models.OneToOneField(Decision, on_delete=models.CASCADE, related_name="explanation")
    rationale = models.JSONField(default=list)  # [{"code", "feature", "weight", "text": {"en","es"}}]
    responsibility = models.JSONField(default=dict)  # {"organisation", "contact_name", "contact_email"}
    data = models.JSONField(default=list)  # [{"feature", "label", "value", "source", "as_of"}]
    counterfactual = models.JSONField(default=list)  # [{"feature", "from", "to"}]
    performance = models.JSONField(default=dict)
    fairness = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"explanation of {self.decision_id}"
