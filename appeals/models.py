"""Appeals, queues and claims, reviews, data disputes and explanation requests (S16-S27).

Writes happen only in ``appeals.services``; the state machine is ``appeals.workflow``. History is the audit
log: every step writes an event whose target is the appeal (or the dispute, or the explanation request),
so a case's timeline is ``AuditEvent.objects.filter(target_type=..., target_id=...)``.

Personal data is kept apart (S33): what a representative or the person told us about how to reach them
and their accessibility needs is in ``AppealContact``, which retention can erase without touching the case.
The statement and evidence are the case itself and are kept for the system's retention period.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from appeals.workflow import LABELS, OPEN_STATES, State
from core.ids import uuid7

STATE_CHOICES = [(s.value, LABELS[s]) for s in State]
_OPEN = sorted(s.value for s in OPEN_STATES)


class Channel(models.TextChoices):
    PORTAL = "portal", "Online (portal)"
    API = "api", "Through the institution's system (API)"
    POST = "post", "By post"
    PHONE = "phone", "By phone"


class Queue(models.Model):
    """Where a system's appeals wait for reviewers; optionally one per team. Members may claim from it."""

    class Ordering(models.TextChoices):
        # Escalated first, then stayed (the person waits with the effect suspended), then by filing date.
        DOCKET = "docket", "Docket order: escalated, then stayed, then oldest filed"
        # Escalated first, then the nearest due date, then by filing date.
        DUE_DATE = "due_date", "Due date: escalated, then nearest due date, then oldest filed"

    system = models.ForeignKey("decisions.DecisionSystem", on_delete=models.PROTECT, related_name="queues")
    team = models.CharField(max_length=80, blank=True, help_text="Empty for the system's main queue.")
    name = models.CharField(max_length=200)
    ordering = models.CharField(max_length=12, choices=Ordering.choices, default=Ordering.DOCKET)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["system", "team"], name="queue_system_team_uniq")]

    def __str__(self) -> str:
        return self.name


class QueueMembership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Reviewer"
        SUPERVISOR = "supervisor", "Supervisor (told about escalations)"

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="queue_memberships"
    )
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.MEMBER)
    added_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["queue", "user"], name="queue_membership_uniq")]

    def __str__(self) -> str:
        return f"{self.user} in {self.queue}"


class ReviewerTraining(models.Model):
    """S2: at impact levels III-IV reviewers need recorded training. ``system`` empty: valid for all."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trainings")
    system = models.ForeignKey(
        "decisions.DecisionSystem", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    course = models.CharField(max_length=200)
    completed_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    recorded_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user}: {self.course}"


class ConflictDeclaration(models.Model):
    """S22: a reviewer declares a conflict with one decision or with everything about one person."""

    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conflicts")
    decision = models.ForeignKey(
        "decisions.Decision", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    subject = models.ForeignKey(
        "decisions.Subject", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    reason = models.TextField()
    declared_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(decision__isnull=False) & Q(subject__isnull=True))
                | (Q(decision__isnull=True) & Q(subject__isnull=False)),
                name="conflict_decision_xor_subject",
            )
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} conflict ({self.declared_at:%Y-%m-%d})"


class Appeal(models.Model):
    class FiledBy(models.TextChoices):
        PERSON = "person", "The person concerned"
        REPRESENTATIVE = "representative", "A representative with the person's authority"

    class ContactPreference(models.TextChoices):
        EMAIL = "email", "Email"
        PORTAL = "portal", "Portal inbox only"
        POST = "post", "Post"
        PHONE = "phone", "Phone"

    class Outcome(models.TextChoices):
        UPHELD = "upheld", "Upheld"
        OVERTURNED = "overturned", "Overturned"
        MODIFIED = "modified", "Modified"

    class Stay(models.TextChoices):
        NOT_APPLICABLE = "not_applicable", "No adverse effect to suspend"
        APPLIED = "applied", "Effect suspended until the outcome"
        REFUSED = "refused", "Effect not suspended (with reasons)"
        LIFTED = "lifted", "Suspension ended"

    class Remedy(models.TextChoices):
        REINSTATEMENT = "reinstatement", "Reinstatement (service, content, account or benefit restored)"
        REFUND = "refund", "Refund or back payment"
        CORRECTION = "correction", "Records corrected"
        EXPUNGED_FLAG = "expunged_flag", "Flag or mark removed from the person's file"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    reference = models.CharField(max_length=20, unique=True)
    decision = models.ForeignKey("decisions.Decision", on_delete=models.PROTECT, related_name="appeals")
    queue = models.ForeignKey(Queue, null=True, blank=True, on_delete=models.PROTECT, related_name="appeals")
    status = models.CharField(max_length=24, choices=STATE_CHOICES, default=State.SUBMITTED)

    # What the person asks (S16).
    filed_by = models.CharField(max_length=16, choices=FiledBy.choices, default=FiledBy.PERSON)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    statement = models.TextField()
    requested_remedy = models.TextField(blank=True)
    oral_hearing_requested = models.BooleanField(default=False)
    contact_preference = models.CharField(
        max_length=8, choices=ContactPreference.choices, default=ContactPreference.EMAIL
    )
    language = models.CharField(max_length=8, default="en")
    filed_at = models.DateTimeField()

    # Triage (S17): a late appeal waits for a person: accepted for good cause, or refused with reasons.
    late = models.BooleanField(default=False)
    appeal_deadline = models.DateField(help_text="The last day to appeal, in the system's zone (S17).")
    good_cause = models.TextField(blank=True, help_text="What the person says about why they are late.")
    triage_reasons = models.TextField(blank=True)
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    triaged_at = models.DateTimeField(null=True, blank=True)

    # The institution's clock (S25): paused while waiting on the person.
    original_due_date = models.DateField()
    due_date = models.DateField(db_index=True)
    clock_paused_at = models.DateTimeField(null=True, blank=True)
    paused_days = models.PositiveIntegerField(default=0)
    escalated = models.BooleanField(default=False)
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalation_count = models.PositiveSmallIntegerField(default=0)

    # Stay of effect (S18).
    stay = models.CharField(max_length=16, choices=Stay.choices, default=Stay.NOT_APPLICABLE)
    stay_reason = models.TextField(blank=True)
    stay_previous_status = models.CharField(max_length=16, blank=True)
    stay_applied_at = models.DateTimeField(null=True, blank=True)
    stay_lifted_at = models.DateTimeField(null=True, blank=True)

    # Claims (Ozone's expiring claims): one reviewer at a time; the claim lapses after idle time.
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="claims"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)

    # Outcome (S26, S27).
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    remedy = models.JSONField(default=list, blank=True, help_text="Remedy codes owed (S27).")
    remedy_note = models.TextField(blank=True)
    remedy_completed_at = models.DateTimeField(null=True, blank=True)
    resulting_decision = models.ForeignKey(
        "decisions.Decision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.TextField(blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawal_reason = models.TextField(blank=True)

    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            # A second open appeal on the same decision is refused (the service says why first).
            models.UniqueConstraint(
                fields=["decision"], condition=Q(status__in=_OPEN), name="appeal_one_open_per_decision"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in State]), name="appeal_status_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["queue", "escalated", "filed_at"],
                condition=Q(status="queued"),
                name="appeal_claimable_idx",
            ),
            models.Index(fields=["status", "due_date"], name="appeal_status_due_idx"),
            models.Index(fields=["claimed_by", "status"], name="appeal_claimant_idx"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES


class AppealContact(models.Model):
    """Personal data given with an appeal, kept apart so retention can erase it (S33)."""

    appeal = models.OneToOneField(Appeal, on_delete=models.CASCADE, related_name="contact")
    representative_name = models.CharField(max_length=200, blank=True)
    representative_email = models.EmailField(blank=True)
    representative_phone = models.CharField(max_length=50, blank=True)
    authority = models.TextField(
        blank=True, help_text="How the representative is authorised to act (e.g. signed authority form)."
    )
    accessibility_needs = models.TextField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    postal_address = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"contact for {self.appeal_id}"


class DataDispute(models.Model):
    """S19: the person disputes one input value of a decision."""

    class Status(models.TextChoices):
        OPEN = "open", "Being checked"
        CORRECTED = "corrected", "Corrected"
        REJECTED = "rejected", "Checked and found correct"
        WITHDRAWN = "withdrawn", "Withdrawn"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    reference = models.CharField(max_length=20, unique=True)
    decision = models.ForeignKey("decisions.Decision", on_delete=models.PROTECT, related_name="disputes")
    decision_input = models.ForeignKey("decisions.DecisionInput", on_delete=models.PROTECT, related_name="+")
    feature = models.CharField(max_length=80)
    disputed_value = models.JSONField(null=True)
    what_is_wrong = models.TextField()
    proposed_value = models.JSONField(null=True, blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    language = models.CharField(max_length=8, default="en")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    filed_at = models.DateTimeField()
    original_due_date = models.DateField()
    due_date = models.DateField()
    additional_information = models.TextField(blank=True)
    information_added_at = models.DateTimeField(null=True, blank=True)
    extended = models.BooleanField(default=False)
    resolution_note = models.TextField(blank=True)
    corrected_value = models.JSONField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    # What the correction did to each decision that used the value: [{"decision", "reference", "action",
    # "from_outcome", "to_outcome", "new_decision"}] (action: superseded, unchanged, redecide_requested, ...).
    effects = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["decision_input"], condition=Q(status="open"), name="dispute_one_open_per_input"
            )
        ]

    def __str__(self) -> str:
        return self.reference


class ExplanationRequest(models.Model):
    """S20: a fuller explanation on request, due within one month, extendable by two with a notice."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ANSWERED = "answered", "Answered"
        WITHDRAWN = "withdrawn", "Withdrawn"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    reference = models.CharField(max_length=20, unique=True)
    decision = models.ForeignKey(
        "decisions.Decision", on_delete=models.PROTECT, related_name="explanation_requests"
    )
    question = models.TextField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    language = models.CharField(max_length=8, default="en")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    filed_at = models.DateTimeField()
    original_due_date = models.DateField()
    due_date = models.DateField()
    extended_at = models.DateTimeField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.reference


class EvidenceFile(models.Model):
    """A file the person gave with an appeal or a dispute: PDF, JPEG or PNG (sniffed), at most 10 MB.

    Stored under ``settings.MEDIA_ROOT`` (outside the web root), at ``path`` relative to it; served only
    through views that check access and record the opening (S21).
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    appeal = models.ForeignKey(
        Appeal, null=True, blank=True, on_delete=models.CASCADE, related_name="evidence"
    )
    dispute = models.ForeignKey(
        DataDispute, null=True, blank=True, on_delete=models.CASCADE, related_name="evidence"
    )
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    path = models.CharField(max_length=300, unique=True)
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(appeal__isnull=False) & Q(dispute__isnull=True))
                | (Q(appeal__isnull=True) & Q(dispute__isnull=False)),
                name="evidence_appeal_xor_dispute",
            )
        ]

    def __str__(self) -> str:
        return self.original_name


class EvidenceOpened(models.Model):
    """S21: a reviewer opened the person's statement (``evidence`` empty) or one evidence file."""

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="openings")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    evidence = models.ForeignKey(
        EvidenceFile, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    opened_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["appeal", "reviewer"], name="evidence_opened_idx")]

    def __str__(self) -> str:
        return f"{self.reviewer} opened {self.evidence_id or 'the statement'}"


class Review(models.Model):
    """One reviewer's work on one appeal: the first review, or the second (four eyes, S24)."""

    class Stage(models.TextChoices):
        FIRST = "first", "Review"
        SECOND = "second", "Second review (four eyes)"

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    stage = models.CharField(max_length=8, choices=Stage.choices, default=Stage.FIRST)
    started_at = models.DateTimeField()
    # S23: what the reviewer thought before seeing the machine's outcome and score.
    blind_outcome = models.ForeignKey(
        "decisions.Outcome", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    blind_note = models.TextField(blank=True)
    blind_at = models.DateTimeField(null=True, blank=True)
    # S21, S26: the outcome, its reasons and the evidence relied on.
    outcome = models.CharField(max_length=12, choices=Appeal.Outcome.choices, blank=True)
    new_outcome = models.ForeignKey(
        "decisions.Outcome", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rationale = models.TextField(blank=True)
    evidence_relied_on = models.JSONField(default=list, blank=True)
    remedy = models.JSONField(default=list, blank=True)
    confirmed = models.BooleanField(null=True, help_text="Second review: confirmed the uphold, or not.")
    decided_at = models.DateTimeField(null=True, blank=True)
    seconds_spent = models.PositiveIntegerField(null=True, blank=True)
    agrees_with_machine = models.BooleanField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["appeal", "reviewer", "stage"], name="review_once_per_stage")
        ]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} of {self.appeal_id} by {self.reviewer}"


class InformationRequest(models.Model):
    """A reviewer's question to the person; the institution's clock is paused until the reply (S25)."""

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="information_requests")
    asked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    question = models.TextField()
    asked_at = models.DateTimeField()
    reply_due = models.DateField()
    reply = models.TextField(blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    timed_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["asked_at"]

    def __str__(self) -> str:
        return f"question of {self.asked_at:%Y-%m-%d}"


class Escalation(models.Model):
    """S25: an overdue appeal was escalated; supervisors see it until one acknowledges it."""

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="escalations")
    number = models.PositiveSmallIntegerField()
    escalated_at = models.DateTimeField()
    missed_due_date = models.DateField()
    new_due_date = models.DateField()
    supervisors_told_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["appeal", "number"], name="escalation_number_uniq")]

    def __str__(self) -> str:
        return f"escalation {self.number} of {self.appeal_id}"


class AppealMessage(models.Model):
    """One message in the two-way thread between the person (or their representative) and the reviewer.

    Written only through ``appeals.messaging.message_post``; the audit event records its length, never its
    text. ``read_at``: when the other side first saw it (the reviewer's "new message" flag)."""

    class AuthorKind(models.TextChoices):
        PERSON = "person", "The person"
        REVIEWER = "reviewer", "Reviewer"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="messages")
    author_kind = models.CharField(max_length=8, choices=AuthorKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["appeal"],
                condition=Q(author_kind="person", read_at__isnull=True),
                name="appeal_message_unread_idx",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(author_kind="person") | Q(author__isnull=False),
                name="appeal_message_reviewer_named",
            )
        ]

    def __str__(self) -> str:
        return f"message from {self.author_kind} on {self.appeal_id}"
