"""Thin Celery tasks for appeals: each calls one service. Periodic ones are in CELERY_BEAT_SCHEDULE.

They retry only when the database is briefly unreachable; everything else is recorded by the services.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from appeals import services

TRANSIENT = (OperationalError, InterfaceError)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def escalate_overdue_appeals() -> int:
    """S25: escalate overdue appeals, tell supervisors, send the person a delay notice."""
    return services.escalate_overdue()


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def release_lapsed_claims() -> int:
    """Claims idle past APPEALS_CLAIM_IDLE_MINUTES go back to their queue."""
    return services.claims_release_lapsed()


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def expire_information_requests() -> int:
    """Unanswered questions past their reply date: the review goes on and the clock runs again."""
    return services.information_requests_expire()


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def close_appeals_on_replaced_decisions() -> int:
    """Open appeals whose decision the integrator superseded meanwhile become moot."""
    return services.appeals_close_replaced()


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def tell_supervisors(escalation_id: int) -> int:
    """Email the supervisors about one escalation (queued on commit by escalate_overdue)."""
    return services.escalation_tell_supervisors(escalation_id=escalation_id)
