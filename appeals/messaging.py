"""The two-way message thread between the person (or their representative) and the reviewer of an appeal.

    message_post(appeal=a, author_kind="reviewer", body="Could you send last month's payslip?", actor=user)
    message_post(appeal=a, author_kind="person", body="Here it is ...", actor=Actor.subject(pseudonym))

Each message is an ``AppealMessage`` row. The audit event (``appeal.message_posted``) records who wrote,
which side and how long the text is, never the text itself: the words are the person's case, kept with the
case and erased with it, while the audit log is kept longer and must hold no personal data.

The other side is told:

- a reviewer's message reaches the person as a notice (portal inbox, and email unless they asked for the
  portal only) through the appeals notice machinery (``appeals.notices.compose_for``), with the message
  text, how to answer and a human contact; the notice is sent as the ``information_requested`` kind, as
  notifications has no kind of its own for messages;
- a person's message shows on the case page and in the reviewer's queues as a "new message" until the
  reviewer who holds the case opens the case page (``message_mark_read``).

Messages are for open appeals only: once decided, the outcome notice and the external routes take over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from appeals import notices, selectors
from appeals.models import Appeal, AppealMessage
from appeals.workflow import OPEN_STATES
from core import audit, clock
from core.actors import as_actor
from core.errors import NotFound, PermissionDenied, TransitionNotAllowed, ValidationFailed, field_error
from core.models import ApiClient, User

MAX_MESSAGE = 5000
AUTHOR_KINDS = frozenset(AppealMessage.AuthorKind.values)


# ------------------------------------------------------------------------------------------ the notice


@dataclass(frozen=True)
class MessageNoticeTemplate(notices.AppealNoticeTemplate):
    """The notice that carries a reviewer's message; its files live beside the reviewer pages."""

    def file(self, language: str, part: str) -> str:
        return f"appeals/review/notices/{self.key}.{language}.{part}"


MESSAGE_TEMPLATE = MessageNoticeTemplate(
    "appeal_message",
    1,
    "",
    ("case", "human_contact", "way_in", "message", "reply_how"),
    "information_requested",
)
# Registered with the appeals notices so that their gate, rendering and checks (oversight's template
# check included) treat it like every other appeal notice.
notices.TEMPLATES.setdefault(MESSAGE_TEMPLATE.key, MESSAGE_TEMPLATE)

REPLY_HOW = {
    "en": "You can answer from your case page. You do not have to answer, but it may help us decide.",
    "es": "Puede responder desde la página de su caso. No tiene que responder, pero nos puede ayudar a "
    "decidir.",
}


def message_elements(appeal: Appeal, message: AppealMessage, lang: str) -> dict[str, Any]:
    e = notices._base(appeal.decision, appeal.reference, lang)
    e["message"] = message.body
    e["reply_how"] = REPLY_HOW[lang]
    return e


# ------------------------------------------------------------------------------------------ who may write


def _check_person(a: Appeal, actor: Any) -> None:
    """The person writes through the portal (as themselves), an integrator through the API for its own
    systems, or staff record what the person said by phone or post."""
    who = as_actor(actor)
    if who.kind == "subject":
        if who.id != a.decision.subject.pseudonym:
            raise NotFound("No such appeal.")
        return
    if isinstance(actor, ApiClient):
        if not actor.systems.filter(pk=a.decision.system_id).exists():
            raise NotFound("No such appeal.")
        return
    if isinstance(actor, User) and (
        selectors.has_reviewer_authority(actor) or selectors.is_supervisor(actor)
    ):
        return
    raise PermissionDenied("Only the person, or staff recording what they said, may write as the person.")


def _check_reviewer(a: Appeal, actor: Any) -> User:
    """The reviewer who holds the case, or a supervisor (S33: nobody outside the case writes on it)."""
    if not isinstance(actor, User) or not (
        selectors.has_reviewer_authority(actor) or selectors.is_supervisor(actor)
    ):
        raise PermissionDenied("Only reviewers may write to the person.", code="staff-only")
    if a.claimed_by_id != actor.pk and not selectors.is_supervisor(actor):
        raise PermissionDenied(
            f"{a.reference} is not claimed by {actor.get_username()}: only the reviewer who holds the case "
            "writes to the person.",
            code="not-claimant",
        )
    return actor


# ------------------------------------------------------------------------------------------ services


def message_post(*, appeal: Appeal | Any, author_kind: str, body: str, actor: Any) -> AppealMessage:
    """Add a message to the appeal's thread and tell the other side (see the module docstring)."""
    text = str(body or "").strip()
    errors = []
    if author_kind not in AUTHOR_KINDS:
        errors.append(field_error("author_kind", "invalid", "person or reviewer"))
    if not text:
        errors.append(field_error("body", "required", "Write the message."))
    elif len(text) > MAX_MESSAGE:
        errors.append(field_error("body", "too-long", f"At most {MAX_MESSAGE:,} characters."))
    if errors:
        raise ValidationFailed("; ".join(e["message"] for e in errors), errors=errors)
    with transaction.atomic():
        try:
            a = (
                Appeal.objects.select_for_update(of=("self",))
                .select_related("decision", "decision__system", "decision__subject")
                .get(pk=getattr(appeal, "pk", appeal))
            )
        except Appeal.DoesNotExist:
            raise NotFound("No such appeal.") from None
        author: User | None = None
        if author_kind == AppealMessage.AuthorKind.REVIEWER:
            author = _check_reviewer(a, actor)
        else:
            _check_person(a, actor)
        if a.status not in OPEN_STATES:
            raise TransitionNotAllowed(
                f"{a.reference} is {a.get_status_display().lower()}: its message thread is closed.",
                code="thread-closed",
            )
        message = AppealMessage.objects.create(
            appeal=a, author_kind=author_kind, author=author, body=text, created_at=clock.now()
        )
        audit.record(
            actor=actor,
            action="appeal.message_posted",
            target=a,
            data={
                "appeal": a.reference,
                "subject": a.decision.subject.pseudonym,
                "message": str(message.pk),
                "author_kind": author_kind,
                "length": len(text),
            },
        )
        if author_kind == AppealMessage.AuthorKind.REVIEWER:
            notices.compose_for(
                a,
                MESSAGE_TEMPLATE.key,
                message_elements(a, message, notices.language_for(a.language)),
                dedupe=f"message:{message.pk}",
                actor=actor,
            )
    return message


def message_mark_read(*, appeal: Appeal | Any, reader: User) -> int:
    """The reviewer who holds the case has seen the person's messages: the "new message" flag goes. Others
    looking at the case (supervisors, auditors) leave it for the reviewer. Answers how many were new."""
    pk = getattr(appeal, "pk", appeal)
    with transaction.atomic():
        a = (
            Appeal.objects.select_for_update(of=("self",))
            .select_related("decision__subject")
            .filter(pk=pk)
            .first()
        )
        if a is None or a.claimed_by_id != reader.pk:
            return 0
        unread = AppealMessage.objects.filter(
            appeal=a, author_kind=AppealMessage.AuthorKind.PERSON, read_at__isnull=True
        )
        count = unread.update(read_at=clock.now())
        if count:
            audit.record(
                actor=reader,
                action="appeal.messages_read",
                target=a,
                data={"appeal": a.reference, "subject": a.decision.subject.pseudonym, "count": count},
            )
    return count


# ------------------------------------------------------------------------------------------ reads


def thread(appeal: Appeal) -> QuerySet[AppealMessage]:
    """The appeal's messages, oldest first, with the reviewer who wrote each."""
    return AppealMessage.objects.filter(appeal=appeal).select_related("author").order_by("created_at", "id")


def has_new_message() -> Exists:
    """For annotating Appeal querysets: the person wrote something the reviewer has not seen yet."""
    return Exists(
        AppealMessage.objects.filter(
            appeal_id=OuterRef("pk"), author_kind=AppealMessage.AuthorKind.PERSON, read_at__isnull=True
        )
    )
