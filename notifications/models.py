"""The outbox: notices to affected people and signed webhook messages to integrators (S11, S12, S15).

``notifications`` knows nothing about decisions or appeals. A notice names its *topic* (a content type
label such as ``"decisions.decision"`` and an id) and its *kind*; the apps above compose what it says and
register what happens when it is delivered (notifications.registry).

A notice row is written in the same transaction as whatever caused it; delivery happens after commit
(notifications.services.notice_deliver) and a periodic sweep re-queues anything pending or stuck, so a
lost broker message delays a notice but never drops it.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.ids import uuid7


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class OutboxRow(models.Model):
    """What every outbox row carries: its delivery state. ``sending_started_at`` is the claim's token and
    the start of its lease (notifications.services.claim)."""

    Status = OutboxStatus

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    status = models.CharField(max_length=12, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        abstract = True


class Notice(OutboxRow):
    """One message to one affected person, stored exactly as sent."""

    class Kind(models.TextChoices):
        DECISION = "decision", "Decision notice"
        APPEAL_RECEIVED = "appeal_received", "Appeal received"
        INFORMATION_REQUESTED = "information_requested", "Information requested"
        APPEAL_OUTCOME = "appeal_outcome", "Appeal outcome"
        DEADLINE_REMINDER = "deadline_reminder", "Deadline reminder"
        DELAY = "delay", "Delay"
        DECISION_REVERSED = "decision_reversed", "Decision reversed"
        DISPUTE_OUTCOME = "dispute_outcome", "Data dispute outcome"
        EXPLANATION_RESPONSE = "explanation_response", "Explanation response"
        MESSAGE = "message", "Message from the reviewer"
        REMEDY = "remedy", "Systemic remedy"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        PORTAL = "portal", "Portal inbox"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    topic_type = models.CharField(max_length=100, help_text='Content type label, e.g. "decisions.decision".')
    topic_id = models.CharField(max_length=64)
    recipient = models.CharField(max_length=64, help_text="The affected person's pseudonymous id.")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    language = models.CharField(max_length=10, default="en")
    # Personal data: erased by retention (notice_addresses_erase); blank for the portal channel.
    to_address = models.CharField(max_length=254, blank=True)
    # Rendered exactly as sent.
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    template_key = models.CharField(max_length=120)
    template_version = models.CharField(max_length=40)
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the channel accepted the message; it is never sent again."
    )
    due_at = models.DateTimeField(
        null=True, blank=True, help_text="S12: the latest time it must be delivered."
    )
    needs_attention = models.BooleanField(
        default=False, help_text="Delivery failed for good: a person must reach them another way."
    )
    dedupe_key = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["topic_type", "topic_id"], name="notice_topic_idx"),
            models.Index(fields=["recipient", "created_at"], name="notice_recipient_idx"),
            models.Index(fields=["created_at"], name="notice_created_idx"),
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="notice_outbox_idx",
            ),
            models.Index(
                fields=["created_at"], condition=Q(needs_attention=True), name="notice_attention_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sending", "delivered", "failed"]),
                name="notice_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="delivered") | Q(delivered_at__isnull=False),
                name="notice_delivered_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient} by {self.channel} ({self.status})"

    @property
    def is_overdue(self) -> bool:
        """S12: not delivered and past its due time."""
        return (
            self.due_at is not None and self.status != self.Status.DELIVERED and self.due_at < timezone.now()
        )

    @property
    def was_late(self) -> bool:
        """S12: delivered after its due time."""
        return self.due_at is not None and self.delivered_at is not None and self.delivered_at > self.due_at


class DeliveryAttempt(models.Model):
    """One try at delivering a notice, with its outcome (S15: attempts and outcomes are recorded)."""

    class Outcome(models.TextChoices):
        STARTED = "started", "Started"
        DELIVERED = "delivered", "Delivered"
        TRANSIENT_FAILURE = "transient_failure", "Failed, will retry"
        PERMANENT_FAILURE = "permanent_failure", "Failed for good"
        LOST = "lost", "Worker lost (lease expired)"
        HANDLER_FAILED = "handler_failed", "Sent; follow-up failed, will retry"

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="delivery_attempts")
    number = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.STARTED)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"attempt {self.number} on {self.notice_id}: {self.outcome}"


class WebhookEndpoint(models.Model):
    """Where an integrator wants to be told about events, signed per the Standard Webhooks spec."""

    client = models.ForeignKey("core.ApiClient", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    # "whsec_" + base64 of 32 random bytes; needed in clear to sign (HMAC), shown once in the admin.
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    event_types = models.JSONField(
        default=list, blank=True, help_text="Event types to send, e.g. decision.effective; empty means all."
    )
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["client_id", "id"]

    def __str__(self) -> str:
        return f"{self.client_id}: {self.url}"

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookMessage(OutboxRow):
    """One event for one endpoint: an outbox row like a notice. Its id is the ``webhook-id`` header."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="messages")
    event_type = models.CharField(max_length=80)
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="webhook_outbox_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to endpoint {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP try at delivering a webhook message: the delivery log."""

    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="delivery_attempts")
    number = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=DeliveryAttempt.Outcome.choices, default="started")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"attempt {self.number} on {self.message_id}: {self.outcome}"
