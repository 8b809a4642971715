"""Thin Celery tasks: each takes ids and calls one service.

Send failures (mail server down, endpoint answering 500) are not Celery retries: the services record them
on the outbox row with a backoff time, and ``sweep_outbox`` (every minute, CELERY_BEAT_SCHEDULE) queues the
row again when that time comes. The tasks themselves retry only when the database is briefly unreachable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from celery import shared_task
from django.db import InterfaceError, OperationalError

from notifications import services, webhooks

# Named transient infrastructure errors: the database restarting or a connection dropped.
TRANSIENT = (OperationalError, InterfaceError)


def _each(deliver: Callable[[str], str], ids: list[str]) -> dict[str, int]:
    """Deliver each id in turn; count the outcomes."""
    return dict(Counter(deliver(i) for i in ids))


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def deliver_notice(notice_id: str) -> str:
    return services.notice_deliver(notice_id=notice_id).outcome


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def deliver_notices(notice_ids: list[str]) -> dict[str, int]:
    """A chunk of a big batch, delivered together (services.notice_deliver_many). Every notice is claimed,
    so a retry of the chunk re-sends nothing."""
    results = services.notice_deliver_many(notice_ids=notice_ids)
    return dict(Counter(r.outcome for r in results.values()))


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def deliver_webhook(message_id: str) -> str:
    return webhooks.webhook_deliver(message_id=message_id).outcome


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def deliver_webhooks(message_ids: list[str]) -> dict[str, int]:
    return _each(lambda i: webhooks.webhook_deliver(message_id=i).outcome, message_ids)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def sweep_outbox() -> dict[str, int]:
    return services.outbox_sweep()
