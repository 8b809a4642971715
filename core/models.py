from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


class User(AbstractUser):
    """Staff: reviewers, senior reviewers, auditors, administrators.

    Affected people never have accounts. ``staff_ref`` is the identifier the institution's own systems use
    for this person (it appears in decisions' human-involvement events), so independence rules (S22) can
    recognise who took or approved an original decision.
    """

    staff_ref = models.CharField(max_length=120, blank=True, db_index=True)


class AuditEvent(models.Model):
    """One append-only, hash-chained audit event (S28). Written only through core.audit.

    Rows are inserted without a hash (cheap, lock-free, so ingestion never queues behind the chain), then
    sealed in order by core.audit.seal(): it gives each event its chain position ``seq``, the previous
    event's hash and its own hash. On PostgreSQL a trigger refuses DELETE, and refuses UPDATE except the
    one-time sealing of an unsealed row. No personal data: subjects appear by pseudonymous id.
    """

    occurred_at = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=20)
    actor_id = models.CharField(max_length=64)
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    target_type = models.CharField(max_length=80, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict)
    seq = models.BigIntegerField(null=True, unique=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["id"], condition=Q(seq__isnull=True), name="audit_unsealed_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq or '-'} {self.action} {self.target_type}:{self.target_id}"


class AuditChainHead(models.Model):
    """The single row the sealer locks: the last sealed position and hash."""

    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"audit chain head at #{self.last_seq}"


class ApiClient(models.Model):
    """An integrator (an institution's scoring system). Scoped to decision systems by decisions."""

    name = models.CharField(max_length=120, unique=True)
    contact_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    # DRF treats request.user as this object for API-key requests.
    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """A key is shown once; only its SHA-256 is stored. ``prefix`` finds the row without the secret."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="keys")
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.client.name} {self.prefix}…"


class IdempotencyKey(models.Model):
    class Status(models.TextChoices):
        IN_FLIGHT = "in_flight"
        DONE = "done"

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="idempotency_client_key_uniq")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.status})"
