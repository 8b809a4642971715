"""API authentication and scoping.

Integrators send ``Authorization: Bearer ctb_<prefix>_<secret>``; ``ApiKeyAuthentication`` makes
``request.user`` the ApiClient and ``request.auth`` the ApiKey. Staff use the API through their session.
Decision endpoints scope what they read and write with ``client_system_ids`` / ``scope_to_client_systems``:
an API key sees only its own systems' data, a staff user sees all, anyone else nothing.

Models are imported inside functions: DRF imports this module while loading its settings, possibly before
the app registry is ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db.models import Model, QuerySet
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

if TYPE_CHECKING:
    from core.models import ApiClient, ApiKey

M = TypeVar("M", bound=Model)

BEARER_REALM = 'Bearer realm="api"'


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer <key>``. No Bearer header: not this scheme (session auth may apply).
    A Bearer header with an unknown, malformed or revoked key: 401 problem details."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKey] | None:
        from core import apikeys

        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Send exactly one API key: 'Authorization: Bearer <key>'.", code="api-key-invalid"
            )
        try:
            plaintext = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(
                "The API key is not valid.", code="api-key-invalid"
            ) from exc
        key = apikeys.api_key_check(plaintext)
        if key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid.", code="api-key-invalid")
        if key.revoked_at is not None or key.client.revoked_at is not None:
            raise exceptions.AuthenticationFailed("The API key was revoked.", code="api-key-revoked")
        apikeys.api_key_touch(key)
        return key.client, key

    def authenticate_header(self, request: Request) -> str:
        return BEARER_REALM


def api_client_of(request: Request) -> ApiClient | None:
    """The ApiClient behind the request, when it came with an API key."""
    from core.models import ApiClient

    user = getattr(request, "user", None)
    return user if isinstance(user, ApiClient) else None


def is_staff_session(request: Request) -> bool:
    from core.models import User

    user = getattr(request, "user", None)
    return isinstance(user, User) and user.is_active and user.is_staff


def client_system_ids(request: Request) -> frozenset[int] | None:
    """The DecisionSystem ids this request may see: None means all (staff), an empty set means none."""
    client = api_client_of(request)
    if client is not None:
        cached: frozenset[int] | None = getattr(request, "_client_system_ids", None)
        if cached is None:
            cached = frozenset(client.systems.values_list("pk", flat=True))
            request._client_system_ids = cached  # type: ignore[attr-defined]
        return cached
    if is_staff_session(request):
        return None
    return frozenset()


def scope_to_client_systems(
    request: Request, queryset: QuerySet[M], system_field: str = "system"
) -> QuerySet[M]:
    """Narrow ``queryset`` to the systems the request may see (``system_field`` names the FK to them)."""
    ids = client_system_ids(request)
    if ids is None:
        return queryset
    return queryset.filter(**{f"{system_field}__in": ids})


class IsApiClientOrStaff(BasePermission):
    """API keys that are not revoked, and active staff users through their session."""

    message = "Use an API key, or sign in as staff."

    def has_permission(self, request: Request, view: Any) -> bool:
        return api_client_of(request) is not None or is_staff_session(request)


class ApiClientRateThrottle(SimpleRateThrottle):
    """Per-client rate (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_client"]); others are not counted."""

    scope = "api_client"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        client = api_client_of(request)
        if client is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": client.pk}
