"""The portal as a person meets it, through Django's test client: a decision recorded through the real
service (so its notice and way in exist), a signed-in client, and helpers that walk the journeys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.actors import SYSTEM
from decisions import access, services
from decisions.models import Decision
from tests.factories import decision_payload, live_system

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
STATEMENT = "My income went up in March. The bureau still shows my old job. Please look again."


@pytest.fixture(autouse=True)
def _private_media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "private"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()  # the way-in limiter counts in the cache
    yield
    cache.clear()


@dataclass
class Case:
    decision: Decision
    code: str


def record_case(*, language: str = "en", adverse: bool = True, **system_fields: Any) -> Case:
    """An adverse credit decision recorded through the service, with its notice composed and delivered."""
    system, version = live_system(**system_fields)
    payload = decision_payload(system, version, adverse=adverse)
    payload["subject"]["language"] = language
    result = services.decision_record(data=payload, actor=SYSTEM)
    assert result.decision is not None and result.access_code
    return Case(Decision.objects.get(pk=result.decision.pk), result.access_code)


@pytest.fixture
def case(db: Any) -> Case:
    return record_case()


def link_path(decision: Decision) -> str:
    token = access.decision_link_token(decision.pk, valid_days=access.link_validity_days(decision.system))
    return f"/portal/open/{token}"


def sign_in(client: Client, decision: Decision) -> None:
    response = client.get(link_path(decision))
    assert response.status_code == 302, response


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def page(response: Any) -> str:
    return str(response.content.decode())


def errors_of(response: Any) -> list[str]:
    """The error summary's messages, in order."""
    html = page(response)
    summary = re.search(r'<div class="error-summary".*?</ul>', html, re.S)
    if summary is None:
        return []
    return [re.sub(r"<[^>]+>", "", m).strip() for m in re.findall(r"<li>(.*?)</li>", summary.group(0), re.S)]


APPEAL_ANSWERS: list[tuple[str, dict[str, Any]]] = [
    ("reason", {"statement": STATEMENT}),
    ("outcome", {"requested_remedy": "Give me the credit limit I asked for."}),
    ("documents", {"action": "continue"}),
    ("someone-else", {"filed_by": "person"}),
    ("help", {"accessibility_needs": "Large print letters, please."}),
    ("contact", {"contact_preference": "portal"}),
]


def walk(client: Client, journey: str, answers: list[tuple[str, dict[str, Any]]]) -> Any:
    """Post each page's answers in turn; each must move on (302). Answers the last response."""
    response = None
    for slug, data in answers:
        response = client.post(f"/portal/{journey}/{slug}/", data)
        assert response.status_code == 302, (slug, response.status_code, errors_of(response))
    return response
