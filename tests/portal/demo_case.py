"""Demo-like cases for the portal's browser tests and screenshots: the demo's credit system
(``decisions.demo``, with its real scorecard, texts and routes), one adverse decision recorded through
``decisions.services`` exactly as the demo records them, and a reviewer in the system's queue."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.utils import timezone

from appeals.models import QueueMembership
from appeals.services import queue_for_system
from core import clock
from core.models import User
from decisions import demo, services
from decisions.models import Decision
from decisions.scorecards import Scorecard
from notifications.models import Notice
from tests.factories import reviewer

_LINK = re.compile(r"(?:Open this link|Abra este enlace): (\S+)")


def demo_decision(*, language: str = "en") -> tuple[Decision, str]:
    """An adverse decision of the demo's credit system, for a person who reads ``language``."""
    _system, version = demo.ensure_system(demo.CREDIT, demo.SeedReport())
    card = Scorecard(version.scorecard or demo.CREDIT.scorecard)
    for i in range(1, 400):
        case = demo.demo_case(demo.CREDIT, card, i)
        if (
            case.result.adverse_side
            and case.subject["language"] == language
            and len(case.result.reasons) >= 2
        ):
            break
    else:  # pragma: no cover - the demo's draw always has such a case
        raise AssertionError("no adverse demo case found")
    item: dict[str, Any] = demo.decision_item(demo.CREDIT, version, case, timezone.now())
    item["external_id"] = f"portal-{uuid.uuid4().hex[:10]}"
    result = services.decision_record(data=item, actor=demo.ACTOR)
    assert result.access_code
    return Decision.objects.get(pk=result.decision.pk), result.access_code


def link_from_outbox(decision: Decision) -> str:
    """The signed link exactly as the notice in the outbox carries it."""
    notice = Notice.objects.filter(topic_id=str(decision.pk), kind="decision").order_by("created_at").first()
    assert notice is not None, "the decision notice was not composed"
    found = _LINK.search(notice.body_text)
    assert found, notice.body_text
    return found.group(1)


def queue_reviewer(decision: Decision, username: str = "rivera") -> User:
    """A reviewer who may claim the system's appeals."""
    user = reviewer(username, first_name="Sam", last_name="Rivera")
    QueueMembership.objects.create(queue=queue_for_system(decision.system), user=user, added_at=clock.now())
    return user
