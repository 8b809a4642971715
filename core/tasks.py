"""Thin periodic tasks for core: each calls one service."""

from celery import shared_task

from core import audit, idempotency


@shared_task
def seal_audit() -> int:
    """Chain any event whose on-commit seal was lost (crash between commit and seal)."""
    return audit.seal()


@shared_task
def prune_idempotency_keys() -> int:
    return idempotency.prune_expired()
