"""Channels: how a notice leaves the building.

A channel's ``send(notice)`` returns when the message was accepted, or raises ``TransientSendError``
(worth retrying later: the mail server is down or slow) or ``PermanentSendError`` (retrying cannot help:
no address, an invalid address, the server refused the recipient). Anything else a channel raises is
treated as transient by the delivery service, which still gives up after the maximum number of attempts,
so an unexpected error ends with a person, never with a silently dropped notice.
"""

from __future__ import annotations

import smtplib
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection
from django.core.validators import validate_email

if TYPE_CHECKING:
    from notifications.models import Notice

# How long one SMTP conversation may take. Must stay well below the delivery lease (services.SENDING_LEASE).
EMAIL_TIMEOUT_SECONDS = 30


class SendError(Exception):
    """Base of the errors a channel raises."""


class TransientSendError(SendError):
    """Retry later with backoff."""


class PermanentSendError(SendError):
    """Stop: a person must reach them another way."""


class Channel(Protocol):
    def send(self, notice: Notice) -> None: ...


def message_id_for(notice: Notice) -> str:
    """A Message-ID derived from the notice id, the same on every attempt, so a receiver can drop the
    duplicate in the rare case where a message was sent but the worker died before recording it."""
    domain = getattr(settings, "NOTIFICATIONS_MESSAGE_ID_DOMAIN", "") or (
        parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "contestable.invalid"
    )
    return f"<notice-{notice.pk}@{domain}>"


class EmailChannel:
    """Django's email backend: console by default, SMTP (EMAIL_URL) in production. Text plus HTML.

    ``send(notice, connection=...)`` sends through an email connection the caller holds open: a chunk of
    notices then shares one SMTP session (or one file, with the file backend) instead of opening one per
    message. Without it, each message opens its own."""

    def open_connection(self) -> Any:
        """An email connection for ``send(..., connection=...)``; the caller closes it."""
        return get_connection(timeout=EMAIL_TIMEOUT_SECONDS)

    def send(self, notice: Notice, connection: Any = None) -> None:
        address = notice.to_address.strip()
        if not address:
            raise PermanentSendError("no email address (never given, or erased)")
        try:
            validate_email(address)
        except ValidationError as exc:
            raise PermanentSendError("invalid email address") from exc
        message = EmailMultiAlternatives(
            subject=notice.subject,
            body=notice.body_text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            headers={
                "Message-ID": message_id_for(notice),
                "Auto-Submitted": "auto-generated",
                "Content-Language": notice.language,
            },
        )
        if notice.body_html:
            message.attach_alternative(notice.body_html, "text/html")
        try:
            if connection is not None:
                connection.open()  # a no-op once open; an open connection stays open after sending
                message.connection = connection
            else:
                message.connection = get_connection(timeout=EMAIL_TIMEOUT_SECONDS)
            sent = message.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _msg in exc.recipients.values()]
            if codes and all(400 <= code < 500 for code in codes):
                raise TransientSendError(f"recipient temporarily refused: {codes}") from exc
            raise PermanentSendError(f"recipient refused: {codes}") from exc
        except (BadHeaderError, ValueError) as exc:
            # Django raises ValueError for an address it cannot encode.
            raise PermanentSendError(f"message cannot be sent as composed: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            # 5xx about this message is final; a refused *sender* is our configuration, worth retrying
            # (bounded by max attempts) while someone fixes it.
            if 500 <= exc.smtp_code < 600 and not isinstance(exc, smtplib.SMTPSenderRefused):
                raise PermanentSendError(f"mail server refused: {exc.smtp_code}") from exc
            raise TransientSendError(f"mail server said {exc.smtp_code}") from exc
        except (smtplib.SMTPException, TimeoutError, ConnectionError, OSError) as exc:
            raise TransientSendError(f"{type(exc).__name__}: {exc}") from exc
        if sent != 1:
            raise TransientSendError("the email backend reported nothing sent")


class PortalChannel:
    """The portal inbox. Every notice is visible to the person in the portal from the moment it exists
    (notifications.selectors.notices_for_recipient); a portal notice is delivered by being made visible,
    so sending does nothing."""

    # Nothing leaves the building: sending again after a crash is harmless, so a chunk of portal notices
    # may record ``sent_at`` together with their delivery (notifications.services.notice_deliver_many).
    sends_nothing = True

    def send(self, notice: Notice) -> None:
        return None


_CHANNELS: dict[str, Channel] = {"email": EmailChannel(), "portal": PortalChannel()}


def channel_for(name: str) -> Channel:
    try:
        return _CHANNELS[name]
    except KeyError:
        raise PermanentSendError(f"unknown channel {name!r}") from None
