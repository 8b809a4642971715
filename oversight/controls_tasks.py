"""Thin Celery tasks for the oversight controls: each calls one service. Periodic ones are in
``CELERY_BEAT_SCHEDULE``; the module is imported by ``OversightConfig.ready`` so workers know the tasks.

They retry only when the database is briefly unreachable; everything else is recorded by the services.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

TRANSIENT = (OperationalError, InterfaceError)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def stop_switch_check(system_id: int) -> str | None:
    """S29: evaluate one system after an appeal outcome. Returns the incident opened, if any."""
    from oversight.stopswitch import stop_switch_evaluate

    incident = stop_switch_evaluate(system=system_id)
    return incident.reference if incident else None


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def stop_switch_sweep() -> list[str]:
    """S29: evaluate every live system (periodic)."""
    from oversight.stopswitch import stop_switch_sweep as sweep

    return [i.reference for i in sweep()]


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def remedy_campaign_process(campaign_id: str) -> dict[str, Any]:
    """S30: notify the people of a campaign and re-score what can be re-scored (queued on opening)."""
    from oversight.remedy import remedy_campaign_process as process

    return process(campaign_id=campaign_id)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def remedy_campaigns_resume() -> int:
    """Process campaigns left with work (a lost task message delays a campaign, never drops it)."""
    from oversight.remedy import remedy_campaigns_resume as resume

    return resume()


@shared_task(autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, max_retries=5)
def retention_sweep() -> dict[str, Any]:
    """S33: erase personal data past each system's retention period and lift expired flags (periodic)."""
    from oversight.retention import retention_sweep as sweep

    return sweep().as_dict()
