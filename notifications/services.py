"""Every write to the outbox: composing notices, delivering them, sweeping, and staff follow-up (S11, S12,
S15). Webhooks to integrators live in notifications.webhooks.

Composers (decisions, appeals) call ``notice_create_many`` inside the transaction of whatever caused the
notice, so the outbox row commits or rolls back with its cause. Delivery is queued on commit; if that
message is lost (broker down, worker killed) the periodic ``outbox_sweep`` finds the row and queues it
again. Delivering is safe to call any number of times from any number of workers: a conditional UPDATE
claims the notice, a delivered notice is never sent again, and one another worker holds is left alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from core import audit, bulk
from core.actors import SYSTEM
from core.errors import NotFound, TransitionNotAllowed, ValidationFailed, field_error
from notifications.channels import PermanentSendError, TransientSendError, channel_for
from notifications.models import DeliveryAttempt, Notice
from notifications.registry import delivered_handlers, run_delivered_handlers

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
QUEUE_ONE_BY_ONE_UP_TO = 1  # two or more go as chunks (deliver_notices), delivered together


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


_KINDS = frozenset(Notice.Kind.values)  # (``.values`` builds a new list on every use)
_CHANNELS = frozenset(Notice.Channel.values)


def _spec_errors(spec: NoticeSpec, index: int) -> list[dict[str, Any]]:
    errors = []
    where = f"specs[{index}]"
    if spec.kind not in _KINDS:
        errors.append(field_error(f"{where}.kind", "invalid-kind", f"Unknown notice kind {spec.kind!r}."))
    if spec.channel not in _CHANNELS:
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
    keys = list(unique)
    with transaction.atomic():
        by_key = _notices_by_key(keys)
        fresh = [row for row in rows if row.dedupe_key not in by_key]
        try:
            with transaction.atomic():  # a savepoint: a duplicate key leaves the caller's transaction usable
                bulk.insert_rows(Notice, fresh)  # one COPY on PostgreSQL
        except IntegrityError:
            # A concurrent composer wrote one of these keys since we looked: insert the rest and keep its.
            Notice.objects.bulk_create(fresh, ignore_conflicts=True)
            by_key = _notices_by_key(keys)
            fresh_ids = {row.pk for row in fresh}
            created = [by_key[k] for k in keys if by_key[k].pk in fresh_ids]
        else:
            created = fresh
            by_key.update((row.dedupe_key, row) for row in fresh)
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


def _notices_by_key(keys: Sequence[str]) -> dict[str, Notice]:
    """The notices that already have these dedupe keys, in one query whatever their number (the keys go
    as one JSON parameter: no parameter limit, no per-key placeholders)."""
    if connection.vendor == "postgresql":
        keys_sql = "SELECT jsonb_array_elements_text(%s::jsonb)"
    else:
        keys_sql = "SELECT value FROM json_each(%s)"
    # The SQL is one of the two constants above; the keys travel as a parameter.
    found = Notice.objects.filter(dedupe_key__in=RawSQL(keys_sql, [json.dumps(list(keys))]))  # noqa: S611
    return {n.dedupe_key: n for n in found}


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


def _mark_delivered(notice: Notice, now: datetime) -> None:
    """Set a sent notice's fields as delivered (in memory; the caller writes them)."""
    notice.status = Notice.Status.DELIVERED
    notice.delivered_at = notice.sent_at or now
    notice.next_attempt_at = None
    notice.sending_started_at = None
    notice.last_error = ""
    notice.needs_attention = False


def _delivered_data(notice: Notice) -> dict[str, Any]:
    return {
        **_audit_data(notice),
        "attempts": notice.attempts,
        "delivered_at": notice.delivered_at.isoformat() if notice.delivered_at else None,
        "late": notice.was_late,
    }


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
            _mark_delivered(notice, now)
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
            audit.record(actor=SYSTEM, action="notice.delivered", target=notice, data=_delivered_data(notice))
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


def claim_many(model: Any, pks: Sequence[Any], now: datetime) -> list[Any]:
    """``claim`` for many rows: one conditional UPDATE per 500 ids, answering the ids it claimed
    (``RETURNING``, so no other worker's claim is ever mistaken for ours)."""
    ops = connection.ops
    table = ops.quote_name(model._meta.db_table)
    pk_field = model._meta.pk
    pk_column = ops.quote_name(pk_field.column)
    at = ops.adapt_datetimefield_value(now)
    lease_cut = ops.adapt_datetimefield_value(now - sending_lease())
    claimed: list[Any] = []
    with connection.cursor() as cursor:
        for chunk in _chunks(list(pks), 500):
            ids = [pk_field.get_db_prep_value(pk, connection) for pk in chunk]
            cursor.execute(
                f"UPDATE {table} SET status = %s, sending_started_at = %s "  # noqa: S608 - names from the model
                f"WHERE {pk_column} IN ({', '.join(['%s'] * len(ids))}) AND ("
                "(status = %s AND (next_attempt_at IS NULL OR next_attempt_at <= %s)) "
                f"OR (status = %s AND sending_started_at < %s)) RETURNING {pk_column}",
                ["sending", at, *ids, "pending", at, "sending", lease_cut],
            )
            claimed += [pk_field.to_python(row[0]) for row in cursor.fetchall()]
    return claimed


def notice_deliver_many(
    *, notice_ids: Sequence[Any], now: datetime | None = None
) -> dict[str, DeliveryResult]:
    """Deliver a chunk of notices (a ``deliver_notices`` task): what ``notice_deliver`` does for each, with
    the bookkeeping done for the whole chunk in a few statements. Answers each id's result.

    The guarantees are ``notice_deliver``'s, notice by notice:
    - one conditional UPDATE claims the chunk (``claim_many``); rows held by a live worker, not yet due,
      delivered or failed are skipped, as one by one;
    - every notice is sent outside any transaction, and a notice with an outside effect (email) has its
      ``sent_at`` written the moment its channel accepted it, before the next is sent: the crash window in
      which a message could go out twice stays one message wide. Only channels that send nothing (the
      portal inbox) record ``sent_at`` with the delivery;
    - failures are recorded per notice, as ``notice_deliver`` records them;
    - the sent notices are then marked delivered, their attempts closed, their audit events written and
      their delivered handlers run (the ``many`` variants where registered) in one transaction. If that
      fails (a handler raising, say), each notice is finished on its own instead, exactly as
      ``notice_deliver`` finishes one: a failing handler sends only its own notice back to pending, with
      ``sent_at`` kept, so nothing is sent twice.
    """
    now = now or timezone.now()
    order = [str(Notice._meta.pk.to_python(i)) for i in notice_ids]
    results: dict[str, DeliveryResult] = dict.fromkeys(order, SKIPPED)
    claimed = claim_many(Notice, notice_ids, now)
    if not claimed:
        return results
    with transaction.atomic():
        notices = {str(n.pk): n for n in Notice.objects.select_for_update().filter(pk__in=claimed)}
        # Takeovers after a crash: the earlier attempts never finished.
        DeliveryAttempt.objects.filter(notice_id__in=claimed, finished_at__isnull=True).update(
            finished_at=now, outcome=DeliveryAttempt.Outcome.LOST, error="worker lost; lease expired"
        )
        to_send = [n for n in notices.values() if n.sent_at is None]
        counts = dict(
            DeliveryAttempt.objects.filter(notice_id__in=[n.pk for n in to_send])
            .values_list("notice_id")
            .annotate(n=Count("id"))
            .values_list("notice_id", "n")
        )
        attempts = {
            a.notice_id: a
            for a in DeliveryAttempt.objects.bulk_create(
                [DeliveryAttempt(notice=n, number=counts.get(n.pk, 0) + 1, started_at=now) for n in to_send]
            )
        }
        Notice.objects.filter(pk__in=[n.pk for n in to_send]).update(attempts=F("attempts") + 1)
        for n in to_send:
            n.attempts += 1

    sent: list[tuple[Notice, DeliveryAttempt | None]] = []
    quiet: list[Notice] = []  # sent through a channel that sends nothing: sent_at recorded with delivery
    with _Connections() as connections:
        for key in order:
            notice = notices.get(key)
            if notice is None:
                continue
            attempt = attempts.get(notice.pk)
            token = notice.sending_started_at
            if notice.sent_at is None:
                try:
                    channel = channel_for(notice.channel)
                    connections.send(channel, notice)
                except PermanentSendError as exc:
                    results[key] = _record_failure(notice, attempt, token, str(exc), permanent=True)
                    continue
                except TransientSendError as exc:
                    results[key] = _record_failure(notice, attempt, token, str(exc), permanent=False)
                    continue
                except Exception as exc:  # unexpected: retried as transient, bounded by max_attempts
                    logger.exception("unexpected error sending notice %s", notice.pk)
                    results[key] = _record_failure(
                        notice, attempt, token, f"{type(exc).__name__}: {exc}", permanent=False
                    )
                    continue
                if getattr(channel, "sends_nothing", False):
                    quiet.append(notice)
                else:
                    notice.sent_at = timezone.now()
                    _record_sent(notice)
            sent.append((notice, attempt))
    if not sent:
        return results
    quiet_sent_at = timezone.now()
    try:
        results.update(_finish_deliveries(sent, quiet, quiet_sent_at))
    except Exception:
        logger.exception("finishing %d deliveries together failed; finishing them one by one", len(sent))
        if quiet:
            Notice.objects.filter(pk__in=[n.pk for n in quiet], sent_at__isnull=True).update(
                sent_at=quiet_sent_at
            )
        for notice, attempt in sent:
            results[str(notice.pk)] = _finish_delivery(notice.pk, attempt)
    return results


def _record_sent(notice: Notice) -> None:
    """Write ``sent_at`` at once, in its own autocommit statement: the channel accepted the message, so no
    later attempt may send it again. Plain SQL: this runs once per email of a chunk."""
    pk = Notice._meta.pk
    assert pk is not None  # noqa: S101
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Notice._meta.db_table} SET sent_at = %s WHERE {pk.column} = %s",  # noqa: S608 - the model's
            [
                connection.ops.adapt_datetimefield_value(notice.sent_at),
                pk.get_db_prep_value(notice.pk, connection),
            ],
        )


class _Connections:
    """Email connections a chunk's sends share (one SMTP session instead of one per message): opened on
    first use, dropped after any failed send (the next send opens a fresh one), closed at the end."""

    def __init__(self) -> None:
        self.email: Any = None

    def __enter__(self) -> _Connections:
        return self

    def send(self, channel: Any, notice: Notice) -> None:
        open_connection = getattr(channel, "open_connection", None)
        if open_connection is None:
            channel.send(notice)
            return
        if self.email is None:
            self.email = open_connection()
        try:
            channel.send(notice, connection=self.email)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.email is not None:
            try:
                self.email.close()
            except Exception:  # a connection that broke may fail to close: it is dropped all the same
                logger.warning("could not close an email connection", exc_info=True)
            self.email = None

    def __exit__(self, *exc: object) -> None:
        self.close()


def _finish_deliveries(
    sent: list[tuple[Notice, DeliveryAttempt | None]], quiet: list[Notice], quiet_sent_at: datetime
) -> dict[str, DeliveryResult]:
    """``_finish_delivery`` for a chunk, in one transaction (see ``notice_deliver_many``)."""
    now = timezone.now()
    ids = [n.pk for n, _a in sent]
    with transaction.atomic():
        current = {
            n.pk: n
            for n in Notice.objects.select_for_update().filter(pk__in=ids).only("id", "status", "sent_at")
        }
        DeliveryAttempt.objects.filter(pk__in=[a.pk for _n, a in sent if a is not None]).update(
            finished_at=now, outcome=DeliveryAttempt.Outcome.DELIVERED
        )
        if quiet:
            Notice.objects.filter(pk__in=[n.pk for n in quiet], sent_at__isnull=True).update(
                sent_at=quiet_sent_at
            )
        quiet_ids = {n.pk for n in quiet}
        done = []
        for notice, _attempt in sent:
            row = current.get(notice.pk)
            if row is None or row.status == Notice.Status.DELIVERED:
                continue  # delivered meanwhile (or gone): nothing more to record, as one by one
            if notice.sent_at is None:
                notice.sent_at = row.sent_at or (quiet_sent_at if notice.pk in quiet_ids else None)
            _mark_delivered(notice, now)
            done.append(notice)
        Notice.objects.filter(pk__in=[n.pk for n in done]).update(
            status=Notice.Status.DELIVERED,
            delivered_at=Coalesce(F("sent_at"), Value(now)),
            next_attempt_at=None,
            sending_started_at=None,
            last_error="",
            needs_attention=False,
        )
        audit.record_many(
            audit.PendingEvent(
                actor=SYSTEM, action="notice.delivered", target=notice, data=_delivered_data(notice)
            )
            for notice in done
        )
        by_kind: dict[str, list[Notice]] = {}
        for notice in done:
            by_kind.setdefault(notice.kind, []).append(notice)
        for kind, notices in by_kind.items():
            run_delivered_handlers(kind, notices)
    return {str(n.pk): DeliveryResult("delivered") for n, _a in sent}


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
