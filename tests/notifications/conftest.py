"""Fixtures for the outbox tests: a notice spec builder and a clock that moves past backoff times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from core.actors import Actor
from core.ids import pseudonym
from notifications.services import NoticeSpec

ACTOR = Actor.system("tests")


def make_spec(**overrides: Any) -> NoticeSpec:
    fields: dict[str, Any] = {
        "kind": "decision",
        "topic_type": "decisions.decision",
        "topic_id": "42",
        "recipient": pseudonym(),
        "channel": "email",
        "to_address": "ana@example.org",
        "language": "en",
        "subject": "Our decision about your credit limit",
        "body_text": "We decided not to raise your credit limit.\n\nYou can appeal until 1 June 2027.",
        "body_html": "<p>We decided not to raise your credit limit.</p><script>alert(1)</script>",
        "template_key": "credit/decision",
        "template_version": "1",
        "due_at": timezone.now() + timedelta(days=30),
    }
    fields.update(overrides)
    return NoticeSpec(**fields)


@pytest.fixture
def spec() -> Callable[..., NoticeSpec]:
    return make_spec


@pytest.fixture
def actor() -> Actor:
    return ACTOR


@pytest.fixture(autouse=True)
def _email_to_memory(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def _no_handlers_from_higher_apps(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests exercise the machinery with made-up topics: the handlers that decisions and appeals
    register (which look their topics up) are set aside; tests register their own."""
    from notifications import registry

    monkeypatch.setattr(registry, "_delivered", {})
