"""Periodic work for the portal (thin: each task calls one function)."""

from __future__ import annotations

from celery import shared_task

from portal.uploads import purge_stale


@shared_task(name="portal.tasks.purge_uploads")
def purge_uploads() -> int:
    """Delete evidence held for journeys nobody sent (older than PORTAL_UPLOAD_HOURS, default 24)."""
    return purge_stale()
