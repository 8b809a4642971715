"""RFC 9457 problem details for every error the API answers.

Every error - a service's ApplicationError, a DRF exception (validation, malformed JSON, authentication,
permission, not found, method, media type, throttling), Django's Http404 / PermissionDenied /
ValidationError, or a bug - leaves the API as ``application/problem+json``::

    {"type": "/problems/invalid-request", "title": "...", "status": 400, "detail": "...",
     "instance": "/api/v1/decisions/", "code": "invalid-request",
     "errors": [{"field": "inputs.2.feature", "code": "required", "message": "This field is required."}]}

``problem_exception_handler`` is DRF's EXCEPTION_HANDLER; ``handler404`` / ``handler500`` answer Django's own
404 and 500 on /api/ paths the same way (config/urls.py points at them). Each ``code`` is described at
``/problems/<code>/``: the registry below holds the codes this module knows, other apps add theirs with
``register_problem_type`` and any ApplicationError subclass is found by its class attributes.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.views import defaults
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from core import errors

logger = logging.getLogger("core.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"
API_PATH_PREFIX = "/api/"
# The single key DRF uses for errors that belong to no field; reported with the parent's path.
NON_FIELD_KEYS = {api_settings.NON_FIELD_ERRORS_KEY, "non_field_errors"}


@dataclass(frozen=True)
class ProblemType:
    code: str
    title: str
    status: int
    description: str


_REGISTRY: dict[str, ProblemType] = {}


def register_problem_type(code: str, *, title: str, status: int, description: str) -> ProblemType:
    """Describe a problem code at /problems/<code>/. Apps call this for the codes they raise."""
    problem = ProblemType(code=code, title=title, status=status, description=description)
    _REGISTRY[code] = problem
    return problem


def _application_error_classes() -> Iterator[type[errors.ApplicationError]]:
    todo: list[type[errors.ApplicationError]] = [errors.ApplicationError]
    while todo:
        cls = todo.pop()
        yield cls
        todo.extend(cls.__subclasses__())


def problem_type_for(code: str) -> ProblemType | None:
    """The registered description of ``code``, or one built from an ApplicationError subclass."""
    if code in _REGISTRY:
        return _REGISTRY[code]
    for cls in _application_error_classes():
        if cls.code == code:
            doc = (cls.__doc__ or "").strip() or cls.title
            return ProblemType(code=code, title=cls.title, status=cls.status, description=doc)
    return None


def known_problem_types() -> list[ProblemType]:
    found = {cls.code: problem_type_for(cls.code) for cls in _application_error_classes()}
    found.update(_REGISTRY)
    return sorted((p for p in found.values() if p is not None), key=lambda p: p.code)


for _code, _title, _status, _description in [
    (
        "application-error",
        "The request could not be completed",
        400,
        "The request was understood but could not be carried out. The detail says why.",
    ),
    (
        "validation-failed",
        "The request is not valid",
        422,
        "The request is well formed, but what it asks for breaks a rule. The errors list names each "
        "field at fault.",
    ),
    ("not-found", "Not found", 404, "Nothing exists at this address, or you may not see it."),
    ("permission-denied", "You may not do this", 403, "You are known, but not allowed to do this."),
    ("conflict", "The request conflicts with the current state", 409, "Reload the resource and try again."),
    (
        "transition-not-allowed",
        "That step is not allowed from the current state",
        409,
        "The resource is in a state from which this step cannot be taken.",
    ),
    (
        "invalid-request",
        "Some fields are missing or invalid",
        400,
        "The body does not match the API's contract. Each entry of the errors list names a field by its "
        'dotted path (for example "inputs.2.feature"), a machine-readable code and a message.',
    ),
    ("malformed-request", "The body is not valid JSON", 400, "Send a JSON document that parses."),
    (
        "not-authenticated",
        "Authentication is needed",
        401,
        "Send your API key in the header 'Authorization: Bearer <key>'.",
    ),
    (
        "authentication-failed",
        "The credentials were not accepted",
        401,
        "The credentials sent are not valid.",
    ),
    (
        "api-key-invalid",
        "The API key is not valid",
        401,
        "The key sent in 'Authorization: Bearer <key>' is unknown or mistyped.",
    ),
    (
        "api-key-revoked",
        "The API key was revoked",
        401,
        "The key, or the API client it belongs to, was revoked. Ask the institution for a new key.",
    ),
    (
        "api-client-revoked",
        "The API client was revoked",
        409,
        "No new key can be issued for a revoked API client.",
    ),
    ("api-client-exists", "An API client with this name exists", 409, "API client names are unique."),
    ("method-not-allowed", "Method not allowed", 405, "This address does not accept that HTTP method."),
    ("not-acceptable", "Cannot answer in the format asked for", 406, "Accept application/json."),
    (
        "unsupported-media-type",
        "Unsupported media type",
        415,
        "Send the body as JSON with 'Content-Type: application/json'.",
    ),
    ("service-unavailable", "Service unavailable", 503, "Try again in a few minutes."),
    ("throttled", "Too many requests", 429, "Slow down: retry after the number of seconds in Retry-After."),
    (
        "server-error",
        "Something went wrong on our side",
        500,
        "An unexpected error occurred. It has been logged. Retrying later with the same Idempotency-Key "
        "is safe.",
    ),
    (
        "idempotency-key-missing",
        "An Idempotency-Key header is needed",
        400,
        "Every POST by an API client carries an 'Idempotency-Key' header: a unique value (a UUID is fine) "
        "that you reuse only to retry the same request.",
    ),
    (
        "idempotency-key-invalid",
        "The Idempotency-Key header is not valid",
        400,
        "An Idempotency-Key is 1 to 255 printable ASCII characters.",
    ),
    (
        "idempotency-key-reused",
        "This Idempotency-Key was used for a different request",
        422,
        "An Idempotency-Key may only be reused to retry the very same request (same method, address "
        "and body). Use a new key for a new request.",
    ),
    (
        "idempotency-key-in-flight",
        "A request with this Idempotency-Key is still being processed",
        409,
        "Wait for the first request to finish, then retry: you will get its response.",
    ),
]:
    register_problem_type(_code, title=_title, status=_status, description=_description)


# --- turning exceptions into ApplicationErrors ------------------------------------------------------------


def field_errors(detail: Any, path: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Flatten DRF's nested error structure into ``{"field", "code", "message"}`` with dotted paths."""
    found: list[dict[str, Any]] = []
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            sub = path if key in NON_FIELD_KEYS else (*path, str(key))
            found.extend(field_errors(value, sub))
    elif isinstance(detail, list | tuple):
        for index, item in enumerate(detail):
            if isinstance(item, Mapping | list | tuple):
                found.extend(field_errors(item, (*path, str(index))))
            else:
                found.extend(field_errors(item, path))
    elif detail is not None:
        code = getattr(detail, "code", None) or "invalid"
        found.append(errors.field_error(".".join(path), str(code), str(detail)))
    return found


def _django_validation_errors(exc: DjangoValidationError) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    by_field = exc.error_dict if hasattr(exc, "error_dict") else {"": exc.error_list}
    for field, items in by_field.items():
        name = "" if field == "__all__" else field
        for item in items:
            message = item.message % item.params if item.params else item.message
            found.append(errors.field_error(name, item.code or "invalid", str(message)))
    return found


def _fields_detail(found: list[dict[str, Any]]) -> str:
    if len(found) == 1:
        where = f" ({found[0]['field']})" if found[0]["field"] else ""
        return f"{found[0]['message']}{where}"
    return f"{len(found)} fields are missing or invalid: see errors."


_DRF_CODES: list[tuple[type[drf.APIException], str]] = [
    (drf.ParseError, "malformed-request"),
    (drf.NotAuthenticated, "not-authenticated"),
    (drf.AuthenticationFailed, "authentication-failed"),
    (drf.PermissionDenied, "permission-denied"),
    (drf.NotFound, "not-found"),
    (drf.MethodNotAllowed, "method-not-allowed"),
    (drf.NotAcceptable, "not-acceptable"),
    (drf.UnsupportedMediaType, "unsupported-media-type"),
    (drf.Throttled, "throttled"),
]


def _drf_code(exc: drf.APIException) -> str:
    """A code raised explicitly (``AuthenticationFailed(..., code="api-key-revoked")``) wins when it is
    registered; otherwise the code of the exception's class."""
    codes = exc.get_codes()
    if isinstance(codes, str) and codes in _REGISTRY:
        return codes
    for cls, code in _DRF_CODES:
        if isinstance(exc, cls):
            return code
    default = str(exc.default_code).replace("_", "-")
    if default in _REGISTRY:
        return default
    return "application-error" if exc.status_code < 500 else "server-error"


def _registered(code: str, detail: str, status: int, **kwargs: Any) -> errors.ApplicationError:
    known = _REGISTRY.get(code)
    title = known.title if known else None
    return errors.ApplicationError(detail, code=code, status=status, title=title, **kwargs)


def as_application_error(exc: BaseException) -> tuple[errors.ApplicationError, dict[str, str]] | None:
    """The ApplicationError (and extra headers) an exception answers as; None for an unexpected one."""
    headers: dict[str, str] = {}
    if isinstance(exc, errors.ApplicationError):
        return exc, headers
    if isinstance(exc, Http404):
        return _registered("not-found", "Nothing was found at this address.", 404), headers
    if isinstance(exc, DjangoPermissionDenied):
        return _registered("permission-denied", "You may not do this.", 403), headers
    if isinstance(exc, DjangoValidationError):
        found = _django_validation_errors(exc)
        return _registered("invalid-request", _fields_detail(found), 400, errors=found), headers
    if isinstance(exc, drf.ValidationError):
        found = field_errors(exc.detail)
        return _registered("invalid-request", _fields_detail(found), exc.status_code, errors=found), headers
    if isinstance(exc, drf.APIException):
        if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
            headers["WWW-Authenticate"] = getattr(exc, "auth_header", None) or 'Bearer realm="api"'
        wait = getattr(exc, "wait", None)
        if isinstance(exc, drf.Throttled) and wait is not None:
            headers["Retry-After"] = str(math.ceil(wait))
        return _registered(_drf_code(exc), str(exc.detail), exc.status_code), headers
    return None


def server_error() -> errors.ApplicationError:
    return _registered(
        "server-error",
        "An unexpected error occurred. It has been logged; please try again later.",
        500,
    )


# --- responses ------------------------------------------------------------------------------------------


def problem_body(error: errors.ApplicationError, *, instance: str) -> dict[str, Any]:
    body = error.as_problem()
    ordered: dict[str, Any] = {k: body.pop(k) for k in ("type", "title", "status", "detail") if k in body}
    ordered["instance"] = instance
    ordered.update(body)
    return ordered


def problem_response(
    error: errors.ApplicationError, *, request: HttpRequest | None, headers: Mapping[str, str] | None = None
) -> Response:
    """A DRF Response carrying ``error`` as problem details."""
    instance = request.path if request is not None else ""
    return Response(
        problem_body(error, instance=instance),
        status=error.status,
        headers=dict(headers or {}),
        content_type=PROBLEM_CONTENT_TYPE,
    )


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception raised in an API view answers as problem details."""
    request = context.get("request")
    converted = as_application_error(exc)
    if converted is None:
        view = context.get("view")
        logger.error(
            "Unhandled error in %s %s (%s)",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            type(view).__name__ if view is not None else "?",
            exc_info=exc,
        )
        converted = server_error(), {}
    error, headers = converted
    set_rollback()
    return problem_response(error, request=request, headers=headers)


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PATH_PREFIX)


def django_problem_response(request: HttpRequest, error: errors.ApplicationError) -> HttpResponse:
    return HttpResponse(
        json.dumps(problem_body(error, instance=request.path)),
        status=error.status,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 (no URL matched, or Http404 outside DRF): problem details on /api/ paths."""
    if is_api_request(request):
        return django_problem_response(
            request, _registered("not-found", "Nothing was found at this address.", 404)
        )
    return defaults.page_not_found(request, exception or Http404())


def handler500(request: HttpRequest) -> HttpResponse:
    """Django's 500 (an error outside DRF's handling): problem details on /api/ paths, no internals."""
    if is_api_request(request):
        return django_problem_response(request, server_error())
    return defaults.server_error(request)
