"""Helpers for the oversight controls tests: appeals decided through the real appeals services."""

from __future__ import annotations

from typing import Any

from appeals import services
from appeals.models import Appeal
from core.models import AuditEvent, User
from tests.appeals.conftest import RATIONALE, World, make_world

__all__ = ["World", "decide", "decide_many", "events", "make_world", "user_in"]


def decide(w: World, outcome: str, *, by: User | None = None, **kwargs: Any) -> Appeal:
    """File an appeal on a new adverse decision of ``w`` and decide it with ``outcome`` (upheld,
    overturned or modified), through the appeals services."""
    reviewer = by or w.alice
    a = w.claimed(by=reviewer)
    w.open_everything(a, reviewer)
    if outcome == "modified":
        kwargs.setdefault("new_outcome", "approved")
    return services.review_decide(
        appeal=a,
        reviewer=reviewer,
        outcome=outcome,
        rationale=RATIONALE,
        evidence_relied_on=["statement", "decision_record"],
        **kwargs,
    )


def decide_many(w: World, *outcomes: str) -> list[Appeal]:
    return [decide(w, o) for o in outcomes]


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def user_in(*groups: str, **fields: Any) -> User:
    from django.contrib.auth.models import Group

    from tests.factories import UserFactory

    user = UserFactory.create(**fields)
    user.groups.add(*(Group.objects.get_or_create(name=g)[0] for g in groups))
    return user
