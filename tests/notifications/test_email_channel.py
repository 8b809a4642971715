"""The email channel against a real SMTP conversation (a small local server), so the mapping from what mail
servers answer to "retry later" or "give up and tell a person" is tested on smtplib's real exceptions."""

from __future__ import annotations

import smtplib
import socket
import socketserver
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.channels import EmailChannel, PermanentSendError, TransientSendError
from notifications.models import Notice
from notifications.services import notice_addresses_erase, notice_create, notice_deliver
from tests.notifications.backends import FlakyBackend

pytestmark = pytest.mark.django_db


class SMTPServer:
    """Speaks just enough SMTP. ``rcpt_reply`` is what it answers to RCPT TO; accepted messages are kept."""

    def __init__(self) -> None:
        self.rcpt_reply = "250 OK"
        self.data_reply = "250 queued"
        self.messages: list[bytes] = []
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 test ESMTP")
                while line := self.rfile.readline():
                    verb = line.decode(errors="replace").strip().split(" ")[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 test")
                    elif verb == "MAIL":
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        self.reply(server.rcpt_reply)
                    elif verb == "DATA":
                        self.reply("354 go ahead")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk
                        if server.data_reply.startswith("250"):
                            server.messages.append(data)
                        self.reply(server.data_reply)
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 OK")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def smtp(settings) -> Iterator[SMTPServer]:
    server = SMTPServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield server
    server.close()


@pytest.fixture
def pending(spec, actor, django_capture_on_commit_callbacks):
    def make(**overrides):
        with django_capture_on_commit_callbacks(execute=False):
            return notice_create(spec=spec(**overrides), actor=actor)

    return make


def test_a_notice_goes_over_smtp_with_text_html_and_its_message_id(smtp, pending):
    notice = pending()
    assert notice_deliver(notice_id=notice.pk).outcome == "delivered"
    [raw] = smtp.messages
    assert f"Message-ID: <notice-{notice.pk}@contestable.invalid>".encode() in raw
    assert b"multipart/alternative" in raw and b"text/html" in raw
    assert b"Auto-Submitted: auto-generated" in raw


def test_a_mailbox_that_does_not_exist_is_a_permanent_failure(smtp, pending):
    smtp.rcpt_reply = "550 5.1.1 no such user"
    notice = pending()
    assert notice_deliver(notice_id=notice.pk).outcome == "failed"
    notice.refresh_from_db()
    assert notice.needs_attention and "550" in notice.last_error


def test_a_full_mailbox_is_retried(smtp, pending):
    smtp.rcpt_reply = "452 4.2.2 mailbox full"
    notice = pending()
    assert notice_deliver(notice_id=notice.pk).outcome == "retry"


def test_a_message_the_server_rejects_for_good_is_a_permanent_failure(smtp, pending):
    smtp.data_reply = "554 5.7.1 message refused"
    notice = pending()
    assert notice_deliver(notice_id=notice.pk).outcome == "failed"


def test_a_server_that_is_down_is_retried(settings, pending):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    notice = pending()
    result = notice_deliver(notice_id=notice.pk)
    assert result.outcome == "retry"
    assert result.retry_at is not None and result.retry_at > timezone.now()
    assert "ConnectionRefused" in Notice.objects.get(pk=notice.pk).last_error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (smtplib.SMTPSenderRefused(550, b"sender refused", "notices@x"), TransientSendError),
        (smtplib.SMTPDataError(451, b"try later"), TransientSendError),
        (smtplib.SMTPDataError(554, b"refused"), PermanentSendError),
        (smtplib.SMTPServerDisconnected("gone"), TransientSendError),
        (TimeoutError("slow"), TransientSendError),
    ],
)
def test_smtp_errors_are_sorted_into_transient_and_permanent(settings, pending, error, expected):
    settings.EMAIL_BACKEND = "tests.notifications.backends.FlakyBackend"
    FlakyBackend.reset()
    FlakyBackend.failures = [error]
    with pytest.raises(expected):
        EmailChannel().send(pending())
    FlakyBackend.reset()


def test_an_unexpected_error_is_retried_but_still_ends_with_a_person(settings, pending):
    settings.EMAIL_BACKEND = "tests.notifications.backends.FlakyBackend"
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    FlakyBackend.reset()
    FlakyBackend.failures = [RuntimeError("bug"), RuntimeError("bug")]
    notice = pending()
    assert notice_deliver(notice_id=notice.pk).outcome == "retry"
    assert notice_deliver(notice_id=notice.pk, now=timezone.now() + timedelta(minutes=2)).outcome == "failed"
    assert Notice.objects.get(pk=notice.pk).needs_attention
    FlakyBackend.reset()


def test_erasing_a_persons_addresses_keeps_the_notices_and_audits_without_the_address(pending, actor):
    from core.models import AuditEvent

    mine = pending(to_address="ana@example.org")
    who = mine.recipient
    portal = pending(recipient=who, channel="portal")
    other = pending(to_address="ben@example.org")

    assert notice_addresses_erase(recipient=who, actor=actor) == 1

    mine.refresh_from_db()
    other.refresh_from_db()
    assert mine.to_address == "" and mine.body_text  # the record of what was said stays
    assert other.to_address == "ben@example.org"
    assert Notice.objects.filter(pk=portal.pk).exists()
    event = AuditEvent.objects.get(action="notice.addresses_erased")
    assert event.data == {"recipient": who, "notices": 1}
    # A notice whose address was erased cannot be sent again: it goes to a person.
    assert notice_deliver(notice_id=mine.pk).outcome == "failed"
