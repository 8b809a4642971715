"""Who did it. Every service takes an ``actor``; it is recorded, never reconstructed afterwards.

An actor is a staff user, an integrator's API client, an affected person acting through the portal
(named only by their pseudonymous id), or the system itself (a periodic task, a stop switch...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    kind: str  # "user" | "api_client" | "subject" | "system"
    id: str
    label: str = ""

    @classmethod
    def system(cls, name: str = "contestable") -> Actor:
        return cls(kind="system", id=name, label=name)

    @classmethod
    def subject(cls, pseudonym: str) -> Actor:
        return cls(kind="subject", id=pseudonym, label="affected person")

    @property
    def user_id(self) -> int | None:
        return int(self.id) if self.kind == "user" else None


SYSTEM = Actor.system()


def as_actor(actor: Any) -> Actor:
    """Normalise what a caller passes as ``actor`` (User, ApiClient, Actor) into an Actor."""
    if isinstance(actor, Actor):
        return actor
    from core.models import ApiClient, User

    if isinstance(actor, User):
        return Actor(kind="user", id=str(actor.pk), label=actor.get_username())
    if isinstance(actor, ApiClient):
        return Actor(kind="api_client", id=str(actor.pk), label=actor.name)
    raise TypeError(f"not an actor: {actor!r}")
