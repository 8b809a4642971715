"""Small builders shared by the core API tests."""

from __future__ import annotations

from typing import Any

from core import apikeys
from core.actors import Actor
from core.models import ApiClient
from decisions.models import DecisionSystem

ADMIN = Actor(kind="user", id="1", label="admin")


def make_system(slug: str, **fields: Any) -> DecisionSystem:
    defaults: dict[str, Any] = {
        "name": slug.replace("-", " ").title(),
        "owner_organisation": "Test Institution",
        "review_contact_name": "Review Team",
        "review_contact_email": "review@example.org",
        "purpose": "Testing",
        "legal_basis": "Contract",
        "domain": "credit",
        "impact_level": 2,
        "status": DecisionSystem.Status.LIVE,
    }
    defaults.update(fields)
    return DecisionSystem.objects.create(slug=slug, **defaults)


def new_client(
    name: str = "Acme Scoring", systems: list[DecisionSystem] | None = None
) -> tuple[ApiClient, str]:
    return apikeys.api_client_create(name=name, systems=systems or [], actor=ADMIN)


def bearer(key: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}
