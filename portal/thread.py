"""The message thread of an appeal, as the person sees it (``appeals.messaging`` owns the writes).

The person writes as themselves (``Actor.subject(pseudonym)``); the reviewer who holds the case writes from
the case page. Reviewers are shown as "your reviewer", never by name. The thread is open while the appeal
is open; after the outcome it is read-only (the service refuses new messages).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from appeals import messaging
from appeals.models import Appeal, AppealMessage
from portal.session import Visitor


@dataclass(frozen=True)
class MessageView:
    at: dt.datetime
    from_person: bool
    body: str
    appeal_reference: str

    @property
    def link(self) -> str:
        return reverse("portal:appeal-status", args=[self.appeal_reference]) + "#messages"

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.at.isoformat(),
            "from": "you" if self.from_person else "reviewer",
            "text": self.body,
        }


def _view(m: AppealMessage, reference: str) -> MessageView:
    return MessageView(
        at=m.created_at,
        from_person=m.author_kind == AppealMessage.AuthorKind.PERSON,
        body=m.body,
        appeal_reference=reference,
    )


def thread_for(v: Visitor, appeal: Appeal) -> list[MessageView]:
    if not v.may_see(appeal.decision_id):
        return []
    return [_view(m, appeal.reference) for m in messaging.thread(appeal)]


def messages_for(v: Visitor, *, decision_ids: list[Any]) -> list[MessageView]:
    """Every message on the appeals of these decisions (only those the session may see)."""
    ids = [pk for pk in decision_ids if v.may_see(pk)]
    rows = (
        AppealMessage.objects.filter(appeal__decision_id__in=ids)
        .select_related("appeal")
        .order_by("created_at", "id")
    )
    return [_view(m, m.appeal.reference) for m in rows]


def post(v: Visitor, appeal: Appeal, body: str) -> AppealMessage:
    """The person writes to their reviewer (raises the service's errors)."""
    return messaging.message_post(appeal=appeal, author_kind="person", body=body, actor=v.actor)


MAX_MESSAGE = messaging.MAX_MESSAGE
