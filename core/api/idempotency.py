"""``Idempotency-Key`` on API POSTs: decorate ``post`` with ``@idempotent`` or use ``IdempotentPostMixin``.

    class DecisionRecordApi(IdempotentPostMixin, APIView):
        def post(self, request): ...

Requests made with an API key must carry the header (400 ``idempotency-key-missing`` otherwise). The same
key with the same method, path and body (compared as canonical JSON: whitespace and key order do not
matter) replays the first response with ``Idempotent-Replayed: true``; with a different request it answers
422; while the first is still running, 409. Responses below 500 are stored and replayed (a refusal is as
final as a success); an exception or a 5xx gives the key back so the client can retry. Staff using their
session may omit the header: keys are scoped to API clients, so their POSTs simply run.
See core.idempotency for the storage and crash handling.
"""

from __future__ import annotations

import functools
import hashlib
import json
import string
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core import idempotency
from core.api.auth import api_client_of
from core.api.schema import IDEMPOTENCY_KEY_PARAMETER
from core.errors import ApplicationError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_PRINTABLE = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c")
# A replay carries the headers the view set itself; the others are added again when DRF finalises it.
_SKIP_HEADERS = frozenset({"content-type", "content-length", "vary", "allow"})

F = TypeVar("F", bound=Callable[..., Any])


class IdempotencyKeyMissing(ApplicationError):
    code = "idempotency-key-missing"
    status = 400
    title = "An Idempotency-Key header is needed"


class IdempotencyKeyInvalid(ApplicationError):
    code = "idempotency-key-invalid"
    status = 400
    title = "The Idempotency-Key header is not valid"


def _key_of(request: Request) -> str:
    key = request.headers.get(HEADER, "").strip()
    if not key:
        raise IdempotencyKeyMissing(
            f"Send an '{HEADER}' header with every POST: a unique value (a UUID is fine) that you reuse only "
            "to retry the same request."
        )
    if len(key) > idempotency.MAX_KEY_LENGTH or not set(key) <= _PRINTABLE:
        raise IdempotencyKeyInvalid(
            f"An {HEADER} is 1 to {idempotency.MAX_KEY_LENGTH} printable ASCII characters."
        )
    return key


def _file_fingerprint(upload: UploadedFile) -> dict[str, Any]:
    """An uploaded file stands in the request hash by name, size and content hash (streamed, not loaded)."""
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)  # the view reads it again
    return {"name": upload.name, "size": upload.size, "sha256": digest.hexdigest()}


def _body_of(request: Request) -> Any:
    data = request.data  # parses the body: malformed JSON raises ParseError (400) before anything is stored
    if isinstance(data, QueryDict):  # form or multipart: files are fingerprinted, never put into JSON
        return {
            k: [_file_fingerprint(v) if isinstance(v, UploadedFile) else v for v in data.getlist(k)]
            for k in sorted(data)
        }
    return data


def _stored_body(response: Response) -> Any:
    data = getattr(response, "data", None)
    if data is None:
        return None
    return json.loads(JSONRenderer().render(data))  # the same encoder that renders the response


def _stored_headers(response: Response) -> dict[str, str]:
    headers = {k: v for k, v in response.items() if k.lower() not in _SKIP_HEADERS}
    content_type = getattr(response, "content_type", None)
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def _replay(replay: idempotency.Replay) -> Response:
    headers = dict(replay.headers)
    content_type = headers.pop("Content-Type", None)
    headers[REPLAYED_HEADER] = "true"
    return Response(replay.body, status=replay.status, headers=headers, content_type=content_type)


def idempotent(view_method: F) -> F:
    """Make an APIView's ``post`` idempotent per API client and ``Idempotency-Key``."""

    @functools.wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Any:
        client = api_client_of(request)
        if client is None:
            return view_method(self, request, *args, **kwargs)
        key = _key_of(request)
        fingerprint = idempotency.request_fingerprint(
            method=request.method or "POST", path=request.get_full_path(), body=_body_of(request)
        )
        outcome = idempotency.begin(
            client=client,
            key=key,
            method=request.method or "POST",
            path=request.path,
            request_hash=fingerprint,
        )
        if isinstance(outcome, idempotency.Replay):
            return _replay(outcome)
        try:
            try:
                response = view_method(self, request, *args, **kwargs)
            except Exception as exc:
                response = self.handle_exception(exc)  # the problem response the client will get
        except BaseException:
            idempotency.release(outcome)
            raise
        if response.status_code >= 500:
            idempotency.release(outcome)
        else:
            idempotency.complete(
                outcome,
                status=response.status_code,
                body=_stored_body(response),
                headers=_stored_headers(response),
            )
        return response

    wrapper.idempotent = True  # type: ignore[attr-defined]
    return cast(F, extend_schema(parameters=[IDEMPOTENCY_KEY_PARAMETER])(wrapper))


class IdempotentPostMixin:
    """Every APIView subclass that mixes this in gets ``@idempotent`` on the ``post`` it defines."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        post = cls.__dict__.get("post")
        if post is not None and not getattr(post, "idempotent", False):
            cls.post = idempotent(post)  # type: ignore[attr-defined]
