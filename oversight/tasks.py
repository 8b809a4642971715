"""Periodic tasks of oversight: thin, each calls one service (settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from oversight import services


@shared_task(name="oversight.tasks.refresh_recent_figures", ignore_result=True)
def refresh_recent_figures() -> int:
    """Every few minutes: the figures of the last days (a full build the first time)."""
    return services.figures_refresh_recent().rows


@shared_task(name="oversight.tasks.settle_figures", ignore_result=True)
def settle_figures() -> int:
    """Hourly: every period a notice clock still reaches (notices delivered or falling due)."""
    return services.figures_settle().rows
