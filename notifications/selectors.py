"""Reads of the outbox. Every notice is also visible to the person in the portal (the portal inbox)."""

from __future__ import annotations

from typing import Any

from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from notifications.models import DeliveryAttempt, Notice, WebhookAttempt, WebhookMessage


def notices_for_topic(topic_type: str, topic_id: Any) -> QuerySet[Notice]:
    """Every notice about one thing (a decision, an appeal), oldest first."""
    return Notice.objects.filter(topic_type=topic_type, topic_id=str(topic_id)).order_by("created_at", "id")


def notices_for_recipient(pseudonym: str) -> QuerySet[Notice]:
    """The person's portal inbox: every notice they were sent, on any channel and whatever became of the
    email, newest first. (A notice whose email bounced is still theirs to read.)"""
    return Notice.objects.filter(recipient=pseudonym).order_by("-created_at", "-id")


def outbox_notices(
    *,
    status: str = "",
    channel: str = "",
    kind: str = "",
    needs_attention: bool = False,
    overdue: bool = False,
) -> QuerySet[Notice]:
    """The staff outbox list: newest first, without the bodies (the list shows none)."""
    qs = Notice.objects.defer("body_text", "body_html").order_by("-created_at", "-id")
    if status:
        qs = qs.filter(status=status)
    if channel:
        qs = qs.filter(channel=channel)
    if kind:
        qs = qs.filter(kind=kind)
    if needs_attention:
        qs = qs.filter(needs_attention=True)
    if overdue:
        qs = qs.filter(overdue_q())
    return qs


def overdue_q() -> Q:
    """S12: due and not delivered in time (still waiting, or delivered late)."""
    now = timezone.now()
    return Q(due_at__lt=now) & ~Q(status=Notice.Status.DELIVERED) | Q(delivered_at__gt=F("due_at"))


def notice_detail(notice_id: Any) -> Notice | None:
    return (
        Notice.objects.prefetch_related(
            Prefetch("delivery_attempts", queryset=DeliveryAttempt.objects.order_by("started_at", "id"))
        )
        .filter(pk=notice_id)
        .first()
    )


def webhook_messages(*, status: str = "") -> QuerySet[WebhookMessage]:
    qs = WebhookMessage.objects.select_related("endpoint", "endpoint__client").order_by("-created_at")
    if status:
        qs = qs.filter(status=status)
    return qs.prefetch_related(
        Prefetch("delivery_attempts", queryset=WebhookAttempt.objects.order_by("started_at", "id"))
    )
