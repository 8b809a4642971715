"""OpenAPI pieces shared by every API view: the ProblemDetails component and its 4xx declarations.

    @extend_schema(request=Input, responses={201: Output, **problem_responses(400, 401, 403, 409, 422)})
    def post(self, request): ...

Each listed status is declared as ``application/problem+json`` with the ProblemDetails component, so the
schema at /api/schema/ shows every error an endpoint can answer. Importing this module also registers the
Bearer scheme of ``core.api.auth.ApiKeyAuthentication`` with drf-spectacular.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from core.api.errors import PROBLEM_CONTENT_TYPE

STATUS_DESCRIPTIONS: dict[int, str] = {
    400: "The request is malformed, a field is missing or invalid, or the Idempotency-Key header is missing.",
    401: "No API key, or a key that is unknown or revoked (send 'Authorization: Bearer <key>').",
    403: "The API key or user may not do this.",
    404: "Not found, or not visible to this API key.",
    405: "The method is not allowed here.",
    406: "The response cannot be given in the format asked for.",
    409: "Conflicts with the current state, or a request with the same Idempotency-Key is still in flight.",
    415: "The body is not JSON.",
    422: "The request breaks a rule, or its Idempotency-Key was used for a different request.",
    429: "Too many requests; see Retry-After.",
    500: "An unexpected error occurred.",
    503: "The service is unavailable for a moment.",
}


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(
        help_text='Dotted path of the field, e.g. "inputs.2.feature"; "" for the body.'
    )
    code = serializers.CharField(help_text="Machine-readable code of this field's problem.")
    message = serializers.CharField()


class ProblemDetailsSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(help_text="URI reference describing the problem type (/problems/<code>).")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField(help_text="The request path.")
    code = serializers.CharField(help_text="Machine-readable problem code.")
    # DRF's metaclass moves declared fields off the class, so this does not shadow Serializer.errors.
    errors = ProblemFieldErrorSerializer(  # type: ignore[assignment]
        many=True, required=False, help_text="Field errors, when any."
    )


def problem_responses(*statuses: int) -> dict[Any, Any]:
    """``extend_schema(responses=...)`` entries declaring ``statuses`` as problem details."""
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            response=ProblemDetailsSerializer, description=STATUS_DESCRIPTIONS.get(status, "")
        )
        for status in statuses
    }


IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name="Idempotency-Key",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=True,
    description=(
        "A unique value per request (a UUID is fine), kept for 24 hours. Retrying with the same key and "
        "body replays the first response (with 'Idempotent-Replayed: true'); the same key with another "
        "body answers 422; while the first request is still running, 409. Required for API keys; staff "
        "sessions may omit it."
    ),
)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "core.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "ctb_<prefix>_<secret>",
            "description": "An API key issued with 'manage.py create_api_key', scoped to decision systems.",
        }
