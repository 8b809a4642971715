"""The audit log's only writer (S28).

    audit.record(actor=..., action="decision.recorded", target=decision, data={...})

``record`` inserts one unsealed event; ``record_many`` inserts a batch in one statement (ingestion).
After the transaction commits, ``seal`` chains every unsealed event in id order under a lock on the chain
head, so appending never serialises the writers themselves. ``verify`` walks the chain.
Never put personal data in ``data``: refer to people by pseudonymous id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from core.actors import Actor, as_actor
from core.models import AuditChainHead, AuditEvent

GENESIS = "0" * 64


@dataclass
class PendingEvent:
    actor: Any
    action: str
    target: models.Model | None = None
    target_type: str = ""
    target_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None


def _target_ref(target: models.Model | None, target_type: str, target_id: str) -> tuple[str, str]:
    if target is not None:
        return target._meta.label_lower, str(target.pk)
    return target_type, str(target_id)


def _build(ev: PendingEvent, now: datetime) -> AuditEvent:
    a: Actor = as_actor(ev.actor)
    ttype, tid = _target_ref(ev.target, ev.target_type, ev.target_id)
    return AuditEvent(
        occurred_at=ev.occurred_at or now,
        actor_type=a.kind,
        actor_id=a.id,
        actor_label=a.label[:150],
        action=ev.action,
        target_type=ttype,
        target_id=tid,
        data=ev.data,
    )


def record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. Call inside the service's transaction so it commits (or not) with the change."""
    ev = _build(PendingEvent(actor, action, target, target_type, target_id, data or {}), timezone.now())
    ev.save(force_insert=True)
    _seal_on_commit()
    return ev


def record_many(events: Iterable[PendingEvent]) -> int:
    """Append many events in one statement (batch ingestion). Returns how many were written."""
    now = timezone.now()
    rows = [_build(e, now) for e in events]
    AuditEvent.objects.bulk_create(rows, batch_size=2000)
    if rows:
        _seal_on_commit()
    return len(rows)


def _seal_on_commit() -> None:
    transaction.on_commit(seal)


def canonical(event: AuditEvent, seq: int, prev_hash: str) -> bytes:
    """The bytes a hash covers: every field of the event, its id and chain position, and the previous hash."""
    body = {
        "id": event.pk,
        "seq": seq,
        "prev": prev_hash,
        "at": event.occurred_at.astimezone(timezone.UTC).isoformat(),
        "actor": [event.actor_type, event.actor_id, event.actor_label],
        "action": event.action,
        "target": [event.target_type, event.target_id],
        "data": event.data,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def event_hash(event: AuditEvent, seq: int, prev_hash: str) -> str:
    return hashlib.sha256(canonical(event, seq, prev_hash)).hexdigest()


def seal(batch_size: int = 2000) -> int:
    """Chain every unsealed event, oldest id first. Safe to call from many processes at once."""
    sealed = 0
    while True:
        with transaction.atomic():
            head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
            if head is None:
                AuditChainHead.objects.get_or_create(pk=1)
                head = AuditChainHead.objects.select_for_update().get(pk=1)
            pending = list(AuditEvent.objects.filter(seq__isnull=True).order_by("id")[:batch_size])
            if not pending:
                return sealed
            seq, prev = head.last_seq, head.last_hash
            for ev in pending:
                seq += 1
                ev.seq, ev.prev_hash = seq, prev
                ev.hash = prev = event_hash(ev, seq, prev)
            AuditEvent.objects.bulk_update(pending, ["seq", "prev_hash", "hash"], batch_size=batch_size)
            head.last_seq, head.last_hash = seq, prev
            head.save(update_fields=["last_seq", "last_hash"])
            sealed += len(pending)
