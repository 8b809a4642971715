"""Thin periodic tasks for decisions: each calls one service."""

from celery import shared_task

from decisions.effects import decisions_make_due_effective


@shared_task
def make_due_decisions_effective() -> int:
    """S11: adverse decisions whose notice period after delivery has run out take effect."""
    return decisions_make_due_effective()
