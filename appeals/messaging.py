"""The two-way message thread between the person (or their representative) and the reviewer of an appeal.

    message_post(appeal=a, author_kind="reviewer", body="Could you send last month's payslip?", actor=user)
    message_post(appeal=a, author_kind="person", body="Here it is ...", actor=Actor.subject(pseudonym))

Each message is an ``AppealMessage`` row. The audit event (``appeal.message_posted``) records who wrote,
which side and how long the text is, never the text itself: the words are the person's case, kept with the
case and erased with it, while the audit log is kept longer and must hold no personal data.

The other side is told:

- a reviewer's message reaches the person as a notice (portal inbox, and email unless they asked for the
  portal only) built like every appeal notice (the appeals notices' base layout, elements and gate), with
  the message text, how to answer and a human contact; it is sent as the ``information_requested`` kind,
  as notifications has no kind of its own for messages. (It is kept out of ``appeals.notices.TEMPLATES``,
  whose specimens and version fingerprints belong to that module.)
- a person's message shows on the case page and in the reviewer's queues as a "new message" until the
  reviewer who holds the case opens the case page (``message_mark_read``).

Messages are for open appeals only: once decided, the outcome notice and the external routes take over.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.template import engines

from appeals import notices, selectors
from appeals.models import Appeal, AppealMessage
from appeals.workflow import OPEN_STATES
from core import audit, clock
from core.actors import as_actor
from core.errors import NotFound, PermissionDenied, TransitionNotAllowed, ValidationFailed, field_error
from core.models import ApiClient, User
from decisions import notices as _dn
from decisions.notices import NoticeIncomplete, RenderedNotice

MAX_MESSAGE = 5000
AUTHOR_KINDS = frozenset(AppealMessage.AuthorKind.values)


# ------------------------------------------------------------------------------------------ the notice

#: The notice that carries a reviewer's message. Its files live beside the reviewer pages
#: (appeals/review/notices/appeal_message.<lang>.<part>) and extend the appeal notices' base layout.
MESSAGE_TEMPLATE_KEY = "appeal_message"
MESSAGE_TEMPLATE_VERSION = 1
MESSAGE_KIND = "message"
MESSAGE_ELEMENTS = ("case", "human_contact", "way_in", "message", "reply_how")

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


def render_message_notice(lang: str, elements: dict[str, Any]) -> RenderedNotice:
    """Subject, text and HTML of the message notice, through the same gate as every appeal notice: each
    element present (NoticeIncomplete otherwise) and each one's words in both bodies."""
    missing = [
        name for name in MESSAGE_ELEMENTS if not notices._CHECKS.get(name, _dn._text)(elements.get(name))
    ]
    if missing:
        raise NoticeIncomplete(missing, template_key=MESSAGE_TEMPLATE_KEY)
    engine = engines["django"]
    ctx = {"e": elements}

    def part(name: str) -> str:
        return engine.get_template(f"appeals/review/notices/{MESSAGE_TEMPLATE_KEY}.{lang}.{name}").render(ctx)

    body_text = "\n".join(line.rstrip() for line in part("txt").splitlines()).strip() + "\n"
    rendered = RenderedNotice(
        MESSAGE_TEMPLATE_KEY,
        MESSAGE_TEMPLATE_VERSION,
        lang,
        _dn._flat(part("subject.txt")),
        body_text,
        part("html"),
    )
    text, markup = _dn._flat(rendered.body_text), _dn._html_text(rendered.body_html)
    dropped = [
        name
        for name in MESSAGE_ELEMENTS
        if any(_dn._flat(s) not in text or _dn._flat(s) not in markup for s in _expected(name, elements))
    ]
    if dropped:
        raise NoticeIncomplete(dropped, template_key=MESSAGE_TEMPLATE_KEY)
    return rendered


def _expected(name: str, elements: dict[str, Any]) -> list[str]:
    value = elements[name]
    if name == "human_contact":
        return [str(value.get("name") or "")]
    if name == "case":
        return [value["reference"], value["decision_reference"]]
    if name == "way_in":
        return [value["link"], value["reference"]]
    return [str(value)]


def _send_message_notice(a: Appeal, message: AppealMessage, actor: Any) -> list[Any]:
    """The person's portal inbox, and email unless they asked for the portal only (as appeal notices go).
    A notice that cannot be completed is not sent: ``appeal.notice_blocked`` names what is missing."""
    from notifications.services import NoticeSpec, notice_create_many

    lang = notices.language_for(a.language)
    try:
        rendered = render_message_notice(lang, message_elements(a, message, lang))
    except NoticeIncomplete as exc:
        audit.record(
            actor=actor,
            action="appeal.notice_blocked",
            target=a,
            data={
                "template": f"{MESSAGE_TEMPLATE_KEY}@{MESSAGE_TEMPLATE_VERSION}",
                "language": lang,
                "missing": exc.missing,
                "subject": a.decision.subject.pseudonym,
            },
        )
        return []
    channels: list[tuple[str, str]] = [("portal", "")]
    if a.contact_preference != Appeal.ContactPreference.PORTAL:
        extra = notices._representative_email(a)
        channels += [("email", address) for address in notices._emails(a.decision, extra)]
    specs = [
        NoticeSpec(
            kind=MESSAGE_KIND,
            topic_type=Appeal._meta.label_lower,
            topic_id=str(a.pk),
            recipient=a.decision.subject.pseudonym,
            channel=channel,
            language=lang,
            to_address=address,
            subject=rendered.subject,
            body_text=rendered.body_text,
            body_html=rendered.body_html,
            template_key=f"appeals/{MESSAGE_TEMPLATE_KEY}",
            template_version=str(MESSAGE_TEMPLATE_VERSION),
            dedupe_key=f"appeal:{a.pk}:message:{message.pk}:{channel}:{i}"[:200],
        )
        for i, (channel, address) in enumerate(channels)
    ]
    return list(notice_create_many(specs=specs, actor=actor))


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
            _send_message_notice(a, message, actor)
    return message


def message_mark_read(*, appeal: Appeal | Any, reader: User) -> int:
    """The reviewer who holds the case has seen the person's messages: the "new message" flag goes. Others
    looking at the case (supervisors, auditors) leave it for the reviewer. Answers how many were new."""
    pk: Any = getattr(appeal, "pk", appeal)
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
