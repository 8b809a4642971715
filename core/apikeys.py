"""API clients and their keys: services (every write) and the key check used by authentication.

A key reads ``ctb_<prefix>_<secret>``. It is shown once, when issued; only its SHA-256 is stored
(``ApiKey.key_hash``) and ``prefix`` finds the row, so checking a key is one indexed read and a
constant-time comparison. Which decision systems a client may act on is the ``DecisionSystem.api_clients``
relation owned by ``decisions``: core never imports it, and the services here take the system objects a
caller (such as ``manage.py create_api_key``) has already looked up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from core import audit
from core.errors import Conflict
from core.models import ApiClient, ApiKey

KEY_SCHEME = "ctb"
PREFIX_LENGTH = 10
SECRET_LENGTH = 40  # 40 characters of 62: about 238 bits
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
# last_used_at is written at most this often per key, so authentication is not a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _new_key() -> tuple[str, str]:
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    return prefix, f"{KEY_SCHEME}_{prefix}_{secret}"


def parse_prefix(plaintext: str) -> str | None:
    """The prefix of a well-formed key, or None."""
    scheme, _, rest = plaintext.partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != KEY_SCHEME or len(prefix) != PREFIX_LENGTH or not secret:
        return None
    return prefix


def _system_refs(systems: Iterable[models.Model]) -> list[dict[str, Any]]:
    return [{"id": s.pk, "slug": getattr(s, "slug", "")} for s in systems]


def _issue(client: ApiClient, actor: Any) -> tuple[ApiKey, str]:
    for _ in range(5):
        prefix, plaintext = _new_key()
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(client=client, prefix=prefix, key_hash=hash_key(plaintext))
        except IntegrityError:  # prefix collision: draw again
            continue
        audit.record(
            actor=actor,
            action="api_key.issued",
            target=key,
            data={"client": client.pk, "prefix": prefix},
        )
        return key, plaintext
    raise RuntimeError("could not draw a unique API key prefix")


@transaction.atomic
def api_client_create(
    *, name: str, systems: Iterable[models.Model] = (), contact_email: str = "", actor: Any
) -> tuple[ApiClient, str]:
    """Create a client scoped to ``systems`` (DecisionSystem rows) and issue its first key.

    Returns the client and the plaintext key: the only time the key exists outside the caller's hands.
    """
    systems = list(systems)
    if ApiClient.objects.filter(name=name).exists():
        raise Conflict(f"An API client named {name!r} already exists.", code="api-client-exists")
    try:
        with transaction.atomic():
            client = ApiClient.objects.create(name=name, contact_email=contact_email)
    except IntegrityError as exc:
        raise Conflict(f"An API client named {name!r} already exists.", code="api-client-exists") from exc
    if systems:
        client.systems.add(*[s.pk for s in systems])
    audit.record(
        actor=actor,
        action="api_client.created",
        target=client,
        data={"name": name, "systems": _system_refs(systems)},
    )
    _key, plaintext = _issue(client, actor)
    return client, plaintext


@transaction.atomic
def api_client_systems_add(*, client: ApiClient, systems: Iterable[models.Model], actor: Any) -> ApiClient:
    """Let ``client`` act on more decision systems. Systems it already has are left as they are."""
    have = set(client.systems.values_list("pk", flat=True))
    new = [s for s in systems if s.pk not in have]
    if not new:
        return client
    client.systems.add(*[s.pk for s in new])
    audit.record(
        actor=actor,
        action="api_client.systems_added",
        target=client,
        data={"systems": _system_refs(new)},
    )
    return client


@transaction.atomic
def api_key_issue(*, client: ApiClient, actor: Any) -> tuple[ApiKey, str]:
    """Issue another key for ``client`` (rotation). Returns the key row and the plaintext, shown once."""
    client = ApiClient.objects.select_for_update().get(pk=client.pk)
    if client.revoked_at is not None:
        raise Conflict(f"The API client {client.name!r} was revoked.", code="api-client-revoked")
    return _issue(client, actor)


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: Any) -> ApiKey:
    """Revoke one key at once: the next request with it answers 401."""
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        return key
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit.record(
        actor=actor,
        action="api_key.revoked",
        target=key,
        data={"client": key.client_id, "prefix": key.prefix},
    )
    return key


@transaction.atomic
def api_client_revoke(*, client: ApiClient, actor: Any) -> ApiClient:
    """Revoke a client and with it every key it holds."""
    client = ApiClient.objects.select_for_update().get(pk=client.pk)
    if client.revoked_at is not None:
        return client
    now = timezone.now()
    client.revoked_at = now
    client.save(update_fields=["revoked_at"])
    revoked_keys = list(client.keys.filter(revoked_at__isnull=True).values_list("prefix", flat=True))
    client.keys.filter(revoked_at__isnull=True).update(revoked_at=now)
    audit.record(
        actor=actor,
        action="api_client.revoked",
        target=client,
        data={"keys_revoked": sorted(revoked_keys)},
    )
    return client


def api_key_check(plaintext: str) -> ApiKey | None:
    """The key row matching ``plaintext`` (with its client), revoked or not; None when nothing matches."""
    prefix = parse_prefix(plaintext)
    if prefix is None:
        return None
    key = ApiKey.objects.select_related("client").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.key_hash, hash_key(plaintext)):
        return None
    return key


def api_key_touch(key: ApiKey, *, now: datetime | None = None) -> bool:
    """Record that ``key`` was used, at most once per LAST_USED_RESOLUTION. True when it wrote."""
    now = now or timezone.now()
    if key.last_used_at is not None and key.last_used_at > now - LAST_USED_RESOLUTION:
        return False
    written = (
        ApiKey.objects.filter(pk=key.pk)
        .filter(models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lte=now - LAST_USED_RESOLUTION))
        .update(last_used_at=now)
    )
    key.last_used_at = now
    return bool(written)
