"""Every write to the outbox: composing notices, delivering them, sweeping, and staff follow-up (S11, S12,
S15). Webhooks to integrators live in notifications.webhooks.

Composers (decisions, appeals) call ``notice_create_many`` inside the transaction of whatever caused the
notice, so the outbox row commits or rolls back with its cause. Delivery is queued on commit; if that
message is lost (broker down, worker killed) the periodic ``outbox_sweep`` finds the row and queues it
again. Delivering is safe to call any number of times from any number of workers: a conditional UPDATE
claims the notice, a delivered notice is never sent again, and one another worker holds is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core import audit
from core.actors import SYSTEM
from core.errors import NotFound, TransitionNotAllowed, ValidationFailed, field_error
from notifications.channels import PermanentSendError, TransientSendError, channel_for
from notifications.models import DeliveryAttempt, Notice
from notifications.registry import delivered_handlers

logger = logging.getLogger(__name__)

NOTICE_TARGET = "notifications.notice"


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def max_attempts() -> int:
    """Sends tried before a notice is given up and handed to a person (permanent errors stop at once)."""
    return int(_setting("NOTIFICATIONS_MAX_ATTEMPTS", 8))


def sending_lease() -> timedelta:
    """How long a worker may hold a notice in "sending" before another may take it over (crash recovery).
    Far longer than a send may take (channels.EMAIL_TIMEOUT_SECONDS)."""
    return timedelta(seconds=int(_setting("NOTIFICATIONS_SENDING_LEASE_SECONDS", 600)))


def sweep_grace() -> timedelta:
    """The sweep leaves rows this young to the message queued on commit, so it does not double the work."""
    return timedelta(seconds=int(_setting("NOTIFICATIONS_SWEEP_GRACE_SECONDS", 30)))


def backoff(attempts: int) -> timedelta:
    """Exponential backoff after ``attempts`` failed tries: 1, 2, 4, 8 ... minutes, at most 6 hours."""
    base = int(_setting("NOTIFICATIONS_BACKOFF_BASE_SECONDS", 60))
    cap = int(_setting("NOTIFICATIONS_BACKOFF_MAX_SECONDS", 6 * 3600))
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


# Queue this many ids per task message for big batches (bulk ingestion of 1,000 decisions).
QUEUE_CHUNK = 200
QUEUE_ONE_BY_ONE_UP_TO = 20


# --------------------------------------------------------------------------------------------------------
# Composing


@dataclass(frozen=True)
class NoticeSpec:
    """What a composer supplies for one notice. Subject, text and HTML are final: stored and sent as given.

    ``dedupe_key`` makes composing idempotent: a second spec with the same key returns the first notice
    instead of creating another. It defaults to ``kind:topic_type:topic_id:recipient:channel``; give one
    explicitly where a topic can have several notices of a kind (reminders, say).
    """

    kind: str
    topic_type: str
    topic_id: str
    recipient: str
    channel: str
    subject: str
    body_text: str
    template_key: str
    template_version: str
    language: str = "en"
    body_html: str = ""
    to_address: str = ""
    due_at: datetime | None = None
    dedupe_key: str = ""

    @property
    def key(self) -> str:
        return self.dedupe_key or ":".join(
            [self.kind, self.topic_type, str(self.topic_id), self.recipient, self.channel]
        )


def _spec_errors(spec: NoticeSpec, index: int) -> list[dict[str, Any]]:
    errors = []
    where = f"specs[{index}]"
    if spec.kind not in Notice.Kind.values:
        errors.append(field_error(f"{where}.kind", "invalid-kind", f"Unknown notice kind {spec.kind!r}."))
    if spec.channel not in Notice.Channel.values:
        errors.append(
            field_error(f"{where}.channel", "invalid-channel", f"Unknown channel {spec.channel!r}.")
        )
    if spec.channel == Notice.Channel.EMAIL and not spec.to_address.strip():
        errors.append(field_error(f"{where}.to_address", "required", "An email notice needs an address."))
    for name in ("topic_type", "topic_id", "recipient", "subject", "body_text", "template_key"):
        if not str(getattr(spec, name)).strip():
            errors.append(field_error(f"{where}.{name}", "required", f"{name} is required."))
    if "\n" in spec.subject or "\r" in spec.subject:
        errors.append(field_error(f"{where}.subject", "invalid", "A subject is one line."))
    if len(spec.subject) > 300:
        errors.append(field_error(f"{where}.subject", "too-long", "A subject is at most 300 characters."))
    if len(spec.key) > 200:
        errors.append(
            field_error(f"{where}.dedupe_key", "too-long", "A dedupe key is at most 200 characters.")
        )
    if spec.due_at is not None and timezone.is_naive(spec.due_at):
        errors.append(field_error(f"{where}.due_at", "naive-time", "due_at must be an aware datetime."))
    return errors


def _audit_data(notice: Notice) -> dict[str, Any]:
    """What the audit log may say about a notice: no address, no text (no personal data)."""
    return {
        "kind": notice.kind,
        "channel": notice.channel,
        "topic_type": notice.topic_type,
        "topic_id": notice.topic_id,
        "recipient": notice.recipient,
        "template_key": notice.template_key,
        "template_version": notice.template_version,
    }


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def notice_create_many(*, specs: Sequence[NoticeSpec], actor: Any) -> list[Notice]:
    """Write notices to the outbox in one insert, inside the caller's transaction, and queue their delivery
    for after commit. Idempotent on ``dedupe_key``: specs whose key already exists (or repeats within the
    batch) return the existing notice and write nothing. Returns one notice per distinct key, in order.
    Invalid specs raise ``ValidationFailed`` listing every problem, and nothing is written."""
    if not specs:
        return []
    errors = [err for i, spec in enumerate(specs) for err in _spec_errors(spec, i)]
    if errors:
        raise ValidationFailed("Some notices cannot be composed.", errors=errors)
    unique: dict[str, NoticeSpec] = {}
    for spec in specs:
        unique.setdefault(spec.key, spec)
    now = timezone.now()
    rows = [
        Notice(
            kind=spec.kind,
            topic_type=spec.topic_type,
            topic_id=str(spec.topic_id),
            recipient=spec.recipient,
            channel=spec.channel,
            language=spec.language,
            to_address=spec.to_address.strip() if spec.channel == Notice.Channel.EMAIL else "",
            subject=spec.subject,
            body_text=spec.body_text,
            body_html=spec.body_html,
            template_key=spec.template_key,
            template_version=str(spec.template_version),
            due_at=spec.due_at,
            dedupe_key=key,
            status=Notice.Status.PENDING,
            next_attempt_at=now,
            created_at=now,
        )
        for key, spec in unique.items()
    ]
    new_ids = {row.pk for row in rows}
    keys = list(unique)
    with transaction.atomic():
        # ON CONFLICT DO NOTHING: a concurrent composer with the same key wins, we return its row.
        Notice.objects.bulk_create(rows, ignore_conflicts=True)
        by_key: dict[str, Notice] = {}
        for chunk in _chunks(keys, 500):
            by_key.update({n.dedupe_key: n for n in Notice.objects.filter(dedupe_key__in=chunk)})
        created = [by_key[k] for k in keys if by_key[k].pk in new_ids]
        audit.record_many(
            audit.PendingEvent(
                actor=actor,
                action="notice.created",
                target_type=NOTICE_TARGET,
                target_id=str(n.pk),
                data={**_audit_data(n), "due_at": n.due_at.isoformat() if n.due_at else None},
                occurred_at=now,
            )
            for n in created
        )
        if created:
            transaction.on_commit(partial(queue_notice_delivery, [str(n.pk) for n in created]), robust=True)
    return [by_key[k] for k in keys]


def notice_create(*, spec: NoticeSpec, actor: Any) -> Notice:
    """One notice; see ``notice_create_many``."""
    return notice_create_many(specs=[spec], actor=actor)[0]


def queue_notice_delivery(notice_ids: Sequence[str]) -> None:
    """Hand ids to the workers. A failure here (broker down) only delays delivery: the sweep finds them."""
    from notifications import tasks

    try:
        if len(notice_ids) <= QUEUE_ONE_BY_ONE_UP_TO:
            for notice_id in notice_ids:
                tasks.deliver_notice.delay(str(notice_id))
        else:
            for chunk in _chunks(list(notice_ids), QUEUE_CHUNK):
                tasks.deliver_notices.delay([str(i) for i in chunk])
    except Exception:
        logger.exception("could not queue delivery of %d notices; the outbox sweep will", len(notice_ids))


# --------------------------------------------------------------------------------------------------------
# Delivering


@dataclass(frozen=True)
class DeliveryResult:
    """What one call to ``notice_deliver`` did: delivered, retry (with ``retry_at``), failed, or skipped
    (already delivered, held by another worker, not yet due, or gone)."""

    outcome: str
    retry_at: datetime | None = None


SKIPPED = DeliveryResult("skipped")


def claim(model: Any, pk: Any, now: datetime) -> bool:
    """Take an outbox row (a Notice or a WebhookMessage) with one conditional UPDATE: pending and due, or
    sending under an expired lease (its worker died). Of several concurrent callers exactly one succeeds;
    ``sending_started_at`` is the claim's token."""
    claimable = Q(status="pending") & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)) | Q(
        status="sending", sending_started_at__lt=now - sending_lease()
    )
    return model.objects.filter(claimable, pk=pk).update(status="sending", sending_started_at=now) == 1


def notice_deliver(*, notice_id: Any, now: datetime | None = None) -> DeliveryResult:
    """Deliver one notice through its channel, at most once.

    1. Claim it (``claim``). A notice that is delivered, failed, not yet due, or held by a live worker is
       left alone.
    2. Send, outside any transaction, unless an earlier attempt already got it accepted (``sent_at``).
    3. Record ``sent_at`` at once, then in one transaction mark it delivered, log the attempt, write the
       audit event and run the delivered handlers (S11). If a handler fails, the notice goes back to
       pending with ``sent_at`` kept: a later attempt only re-runs the handlers, it never re-sends.
    4. On a transient error, back off exponentially; after ``max_attempts()`` tries, or on a permanent
       error, mark it failed and ``needs_attention`` so staff reach the person another way.

    The honest window: if the worker dies after the mail server accepted the message but before step 3
    wrote ``sent_at`` (a few milliseconds), the lease expires and the notice is sent again. Its Message-ID
    is derived from the notice id, so the receiving side can recognise the duplicate. Nothing can close
    this window entirely without the receiver's help; the alternative (marking before sending) would lose
    notices instead, which S15 forbids.
    """
    now = now or timezone.now()
    if not claim(Notice, notice_id, now):
        return SKIPPED
    with transaction.atomic():
        notice = Notice.objects.select_for_update().get(pk=notice_id)
        # A takeover after a crash: the earlier attempt never finished.
        DeliveryAttempt.objects.filter(notice=notice, finished_at__isnull=True).update(
            finished_at=now, outcome=DeliveryAttempt.Outcome.LOST, error="worker lost; lease expired"
        )
        attempt = None
        if notice.sent_at is None:
            number = DeliveryAttempt.objects.filter(notice=notice).count() + 1
            attempt = DeliveryAttempt.objects.create(notice=notice, number=number, started_at=now)
            Notice.objects.filter(pk=notice.pk).update(attempts=F("attempts") + 1)
            notice.attempts += 1
    token = notice.sending_started_at

    if notice.sent_at is None:
        try:
            channel_for(notice.channel).send(notice)
        except PermanentSendError as exc:
            return _record_failure(notice, attempt, token, str(exc), permanent=True)
        except TransientSendError as exc:
            return _record_failure(notice, attempt, token, str(exc), permanent=False)
        except Exception as exc:  # unexpected: retried like a transient error, still bounded by max_attempts
            logger.exception("unexpected error sending notice %s", notice.pk)
            return _record_failure(notice, attempt, token, f"{type(exc).__name__}: {exc}", permanent=False)
        sent_at = timezone.now()
        Notice.objects.filter(pk=notice.pk).update(sent_at=sent_at)
    return _finish_delivery(notice.pk, attempt)


def _finish_delivery(notice_id: Any, attempt: DeliveryAttempt | None) -> DeliveryResult:
    now = timezone.now()
    try:
        with transaction.atomic():
            notice = Notice.objects.select_for_update().get(pk=notice_id)
            if attempt is not None:
                attempt.finished_at = now
                attempt.outcome = DeliveryAttempt.Outcome.DELIVERED
                attempt.save(update_fields=["finished_at", "outcome"])
            if notice.status == Notice.Status.DELIVERED:
                return DeliveryResult("delivered")
            notice.status = Notice.Status.DELIVERED
            notice.delivered_at = notice.sent_at or now
            notice.next_attempt_at = None
            notice.sending_started_at = None
            notice.last_error = ""
            notice.needs_attention = False
            notice.save(
                update_fields=[
                    "status",
                    "delivered_at",
                    "next_attempt_at",
                    "sending_started_at",
                    "last_error",
                    "needs_attention",
                ]
            )
            audit.record(
                actor=SYSTEM,
                action="notice.delivered",
                target=notice,
                data={
                    **_audit_data(notice),
                    "attempts": notice.attempts,
                    "delivered_at": notice.delivered_at.isoformat(),
                    "late": notice.was_late,
                },
            )
            for handler in delivered_handlers(notice.kind):
                handler(notice)
    except Exception as exc:
        logger.exception("notice %s was sent but finishing its delivery failed", notice_id)
        retry_at = now + backoff(1)
        with transaction.atomic():
            if attempt is not None:
                DeliveryAttempt.objects.filter(pk=attempt.pk).update(
                    finished_at=now,
                    outcome=DeliveryAttempt.Outcome.HANDLER_FAILED,
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                )
            Notice.objects.filter(pk=notice_id, status=Notice.Status.SENDING).update(
                status=Notice.Status.PENDING,
                next_attempt_at=retry_at,
                sending_started_at=None,
                last_error=f"sent, but recording the delivery failed: {type(exc).__name__}: {exc}"[:2000],
            )
        return DeliveryResult("retry", retry_at)
    return DeliveryResult("delivered")


def _record_failure(
    notice: Notice, attempt: DeliveryAttempt | None, token: datetime | None, error: str, *, permanent: bool
) -> DeliveryResult:
    now = timezone.now()
    error = error[:2000]
    with transaction.atomic():
        current = Notice.objects.select_for_update().get(pk=notice.pk)
        if attempt is not None:
            attempt.finished_at = now
            attempt.outcome = (
                DeliveryAttempt.Outcome.PERMANENT_FAILURE
                if permanent
                else DeliveryAttempt.Outcome.TRANSIENT_FAILURE
            )
            attempt.error = error
            attempt.save(update_fields=["finished_at", "outcome", "error"])
        if current.status != Notice.Status.SENDING or current.sending_started_at != token:
            return SKIPPED  # another worker took over (our lease expired) and now owns the outcome
        give_up = permanent or current.attempts >= max_attempts()
        current.sending_started_at = None
        current.last_error = error
        if give_up:
            current.status = Notice.Status.FAILED
            current.next_attempt_at = None
            current.needs_attention = True
        else:
            current.status = Notice.Status.PENDING
            current.next_attempt_at = now + backoff(current.attempts)
        current.save(
            update_fields=["status", "next_attempt_at", "sending_started_at", "last_error", "needs_attention"]
        )
        audit.record(
            actor=SYSTEM,
            action="notice.failed" if give_up else "notice.attempt_failed",
            target=current,
            data={
                **_audit_data(current),
                "attempt": current.attempts,
                "permanent": permanent,
                "retry_at": current.next_attempt_at.isoformat() if current.next_attempt_at else None,
            },
        )
    if give_up:
        return DeliveryResult("failed")
    return DeliveryResult("retry", current.next_attempt_at)


# --------------------------------------------------------------------------------------------------------
# Sweeping


def due_notice_ids(*, now: datetime | None = None, limit: int = 5000) -> list[str]:
    """Notices the workers should be holding but may not be: pending and due (past the grace left to the
    on-commit message), or stuck in sending past the lease."""
    now = now or timezone.now()
    due = Q(status=Notice.Status.PENDING, next_attempt_at__lte=now - sweep_grace()) | Q(
        status=Notice.Status.SENDING, sending_started_at__lt=now - sending_lease()
    )
    ids = Notice.objects.filter(due).order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    return [str(i) for i in ids]


def outbox_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Re-queue every notice and webhook message that is due or stuck (a lost broker message, a crashed
    worker, a retry whose time has come). Run every minute by Celery beat."""
    from notifications import webhooks

    notice_ids = due_notice_ids(now=now)
    if notice_ids:
        queue_notice_delivery(notice_ids)
    message_ids = webhooks.due_webhook_ids(now=now)
    if message_ids:
        webhooks.queue_webhook_delivery(message_ids)
    return {"notices": len(notice_ids), "webhooks": len(message_ids)}


# --------------------------------------------------------------------------------------------------------
# Staff follow-up and retention


def notice_retry(*, notice_id: Any, actor: Any) -> Notice:
    """Staff: try a failed notice again (the address was corrected, the mail server fixed). It gets a
    fresh set of attempts; the attempt log keeps the history."""
    with transaction.atomic():
        notice = Notice.objects.select_for_update().filter(pk=notice_id).first()
        if notice is None:
            raise NotFound("No such notice.")
        if notice.status != Notice.Status.FAILED:
            raise TransitionNotAllowed("Only a failed notice can be tried again.")
        notice.status = Notice.Status.PENDING
        notice.attempts = 0
        notice.next_attempt_at = timezone.now()
        notice.needs_attention = False
        notice.save(update_fields=["status", "attempts", "next_attempt_at", "needs_attention"])
        audit.record(actor=actor, action="notice.retried", target=notice, data=_audit_data(notice))
        transaction.on_commit(partial(queue_notice_delivery, [str(notice.pk)]), robust=True)
    return notice


def notice_attention_resolve(*, notice_id: Any, actor: Any, how: str) -> Notice:
    """Staff: record that the person was reached another way (post, phone, in person) after delivery failed
    for good. ``how`` must not contain personal data: it goes into the audit log."""
    how = how.strip()
    if not how:
        raise ValidationFailed(errors=[field_error("how", "required", "Say how the person was reached.")])
    with transaction.atomic():
        notice = Notice.objects.select_for_update().filter(pk=notice_id).first()
        if notice is None:
            raise NotFound("No such notice.")
        if not notice.needs_attention:
            return notice
        notice.needs_attention = False
        notice.save(update_fields=["needs_attention"])
        audit.record(
            actor=actor,
            action="notice.attention_resolved",
            target=notice,
            data={**_audit_data(notice), "how": how},
        )
    return notice


def notice_addresses_erase(*, recipient: str, actor: Any) -> int:
    """Retention and erasure: blank the email address on every notice to ``recipient``. The text stays (it
    is the record of what was said); the audit chain is untouched because it never held the address."""
    with transaction.atomic():
        count = Notice.objects.filter(recipient=recipient).exclude(to_address="").update(to_address="")
        audit.record(
            actor=actor,
            action="notice.addresses_erased",
            target_type=NOTICE_TARGET,
            target_id="",
            data={"recipient": recipient, "notices": count},
        )
    return count
