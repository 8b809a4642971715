"""A world to appeal in: a live system recorded through the real services, an integrator with a webhook
endpoint, the system's queue with reviewers, and helpers to file appeals and walk them to a decision."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from appeals import services
from appeals.models import Appeal, EvidenceFile, Queue, QueueMembership
from core import clock
from core.actors import Actor
from core.models import ApiClient, AuditEvent, User
from decisions.models import Decision, DecisionSystem, SystemVersion
from notifications.models import Notice, WebhookEndpoint, WebhookMessage
from notifications.webhooks import generate_secret
from tests.factories import ApiClientFactory, live_system, recorded_decision, reviewer

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
STATEMENT = "My income went up in March; the bureau still shows my old job. Please look again."
RATIONALE = "The payslips show the income the model did not have; the decision rested on stale data."


@pytest.fixture(autouse=True)
def _private_media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "private"


@dataclass
class World:
    system: DecisionSystem
    version: SystemVersion
    client: ApiClient
    endpoint: WebhookEndpoint
    queue: Queue
    alice: User
    bob: User
    carol: User
    senior: User
    person: Actor = field(default_factory=lambda: Actor.subject("subj_test"))

    def decision(self, **overrides: Any) -> Decision:
        return recorded_decision(self.system, self.version, client=self.client, **overrides)

    def appeal(self, decision: Decision | None = None, **kwargs: Any) -> Appeal:
        d = decision or self.decision()
        kwargs.setdefault("statement", STATEMENT)
        return services.appeal_file(decision=d, actor=Actor.subject(d.subject.pseudonym), **kwargs)

    def claimed(self, by: User | None = None, **kwargs: Any) -> Appeal:
        """A new appeal claimed by ``by`` (alice): the only queued appeal it can find."""
        a = self.appeal(**kwargs)
        reviewer_ = by or self.alice
        claimed = services.review_claim_next(reviewer=reviewer_, queue=self.queue)
        assert claimed is not None and claimed.pk == a.pk
        return claimed

    def open_everything(self, appeal: Appeal, by: User) -> None:
        services.evidence_open(appeal=appeal, reviewer=by)
        for f in EvidenceFile.objects.filter(appeal=appeal):
            services.evidence_open(appeal=appeal, reviewer=by, evidence=f)


def make_world(**system_fields: Any) -> World:
    client = ApiClientFactory.create()
    system_fields.setdefault(
        "external_routes",
        [
            {"kind": "ombudsman", "name": "Financial Ombudsman", "url": "https://ombudsman.example"},
            {"kind": "court", "name": "District Court", "url": ""},
        ],
    )
    system, version = live_system(api_clients=[client], **system_fields)
    endpoint = WebhookEndpoint.objects.create(
        client=client, url="https://integrator.example/hooks", secret=generate_secret()
    )
    queue = services.queue_for_system(system)
    alice, bob, carol = reviewer(staff_ref="EMP-ALICE"), reviewer(staff_ref="EMP-BOB"), reviewer()
    senior = reviewer(senior=True)
    for user in (alice, bob, carol, senior):
        QueueMembership.objects.create(queue=queue, user=user, added_at=clock.now())
    return World(system, version, client, endpoint, queue, alice, bob, carol, senior)


@pytest.fixture
def world(db: Any) -> World:
    return make_world()


def events(target: Any, action: str | None = None) -> list[AuditEvent]:
    qs = AuditEvent.objects.filter(target_type=target._meta.label_lower, target_id=str(target.pk)).order_by(
        "id"
    )
    return list(qs.filter(action=action) if action else qs)


def actions(target: Any) -> list[str]:
    return [e.action for e in events(target)]


def notices_about(target: Any, kind: str | None = None) -> list[Notice]:
    qs = Notice.objects.filter(topic_type=target._meta.label_lower, topic_id=str(target.pk)).order_by(
        "created_at"
    )
    return list(qs.filter(kind=kind) if kind else qs)


def webhooks(event_type: str) -> list[WebhookMessage]:
    return list(WebhookMessage.objects.filter(event_type=event_type).order_by("created_at"))


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Freeze ``core.clock.now`` (which every appeals service and the audit log read) at a settable time."""

    class Frozen:
        at: datetime = clock.now()

        def set(self, value: datetime) -> None:
            self.at = value

    f = Frozen()
    monkeypatch.setattr(clock, "now", lambda: f.at)
    yield f
