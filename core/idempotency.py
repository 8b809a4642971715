"""Idempotency keys: the storage side (the DRF side is core.api.idempotency).

A POST with an ``Idempotency-Key`` runs at most once per API client and key:

1. ``begin`` inserts an in-flight row in its own short transaction, committed before the view runs, so a
   second request with the same key sees it at once. If the row exists: a different request (method, path
   or canonical body) answers 422; a finished one is replayed; one still in flight answers 409.
2. The view runs. ``complete`` stores its response; ``release`` deletes the row when the view failed
   (an exception or a 5xx), so the client can simply retry.
3. A process that dies between 1 and 2 leaves an in-flight row behind. After IN_FLIGHT_TIMEOUT it counts
   as abandoned and the next request with that key takes it over (a conditional UPDATE, so only one does).
   The services behind the API stay idempotent on their own business keys (e.g. a decision's
   ``external_id``), so a request taken over after a crash that had already committed cannot record twice.

Rows older than ``settings.IDEMPOTENCY_KEY_TTL`` are expired: ``prune_expired`` deletes them (hourly task),
and an expired row not yet pruned no longer binds its key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ApplicationError
from core.models import ApiClient, IdempotencyKey

MAX_KEY_LENGTH = 255
PATH_LENGTH = IdempotencyKey._meta.get_field("path").max_length or 500  # the fingerprint covers the full path


def key_ttl() -> timedelta:
    return getattr(settings, "IDEMPOTENCY_KEY_TTL", timedelta(hours=24))


def in_flight_timeout() -> timedelta:
    """How long a request may hold its key before the key counts as abandoned."""
    return getattr(settings, "IDEMPOTENCY_IN_FLIGHT_TIMEOUT", timedelta(minutes=5))


class IdempotencyKeyReused(ApplicationError):
    code = "idempotency-key-reused"
    status = 422
    title = "This Idempotency-Key was used for a different request"


class IdempotencyKeyInFlight(ApplicationError):
    code = "idempotency-key-in-flight"
    status = 409
    title = "A request with this Idempotency-Key is still being processed"


@dataclass(frozen=True)
class Claim:
    """This request holds the key. ``created_at`` doubles as the ownership token: a takeover changes it."""

    pk: int
    created_at: datetime


@dataclass(frozen=True)
class Replay:
    """The key's first request finished: answer with its response."""

    status: int
    body: Any
    headers: dict[str, str]


def canonical_json(value: Any) -> str:
    """The same JSON document always gives the same text, whatever its whitespace and key order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def request_fingerprint(*, method: str, path: str, body: Any) -> str:
    return hashlib.sha256(canonical_json([method.upper(), path, body]).encode()).hexdigest()


def begin(
    *, client: ApiClient, key: str, method: str, path: str, request_hash: str, now: datetime | None = None
) -> Claim | Replay:
    """Claim ``key`` for this request, or tell what the first request with it answered.

    Raises IdempotencyKeyReused (422) or IdempotencyKeyInFlight (409).
    """
    for _attempt in range(3):
        current = now or timezone.now()
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(
                    client=client,
                    key=key,
                    method=method,
                    path=path[:PATH_LENGTH],
                    request_hash=request_hash,
                    created_at=current,
                )
            return Claim(pk=row.pk, created_at=current)
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(client=client, key=key).first()
        if existing is None:  # released or pruned since the insert failed: try again
            continue
        if existing.created_at <= current - key_ttl():
            if _take_over(existing, current, method=method, path=path, request_hash=request_hash):
                return Claim(pk=existing.pk, created_at=current)
            continue
        if existing.request_hash != request_hash:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used for a different request. Use a new key for a new "
                "request."
            )
        if existing.status == IdempotencyKey.Status.DONE:
            return Replay(
                status=existing.response_status or 200,
                body=existing.response_body,
                headers=dict(existing.response_headers or {}),
            )
        if existing.created_at > current - in_flight_timeout():
            raise IdempotencyKeyInFlight(
                "A request with this Idempotency-Key is still being processed. Retry when it has finished."
            )
        if _take_over(existing, current, method=method, path=path, request_hash=request_hash):
            return Claim(pk=existing.pk, created_at=current)
    raise IdempotencyKeyInFlight(
        "A request with this Idempotency-Key is still being processed. Retry when it has finished."
    )


def _take_over(existing: IdempotencyKey, now: datetime, *, method: str, path: str, request_hash: str) -> bool:
    """Take an abandoned or expired row, unless another request changed it since it was read."""
    return bool(
        IdempotencyKey.objects.filter(
            pk=existing.pk, status=existing.status, created_at=existing.created_at
        ).update(
            status=IdempotencyKey.Status.IN_FLIGHT,
            method=method,
            path=path[:PATH_LENGTH],
            request_hash=request_hash,
            response_status=None,
            response_body=None,
            response_headers={},
            created_at=now,
        )
    )


def complete(claim: Claim, *, status: int, body: Any, headers: dict[str, str]) -> bool:
    """Store the response of the claimed request. False when the claim was lost (taken over)."""
    return bool(
        IdempotencyKey.objects.filter(
            pk=claim.pk, created_at=claim.created_at, status=IdempotencyKey.Status.IN_FLIGHT
        ).update(
            status=IdempotencyKey.Status.DONE,
            response_status=status,
            response_body=body,
            response_headers=headers,
        )
    )


def release(claim: Claim) -> None:
    """Give the key back after a failure, so a retry runs the request again."""
    IdempotencyKey.objects.filter(
        pk=claim.pk, created_at=claim.created_at, status=IdempotencyKey.Status.IN_FLIGHT
    ).delete()


def prune_expired(now: datetime | None = None) -> int:
    """Delete keys older than IDEMPOTENCY_KEY_TTL. Returns how many were deleted."""
    cutoff = (now or timezone.now()) - key_ttl()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
