"""A test-only URLconf: small API views that exercise core.api (errors, auth, idempotency, pagination)
without depending on the decision endpoints. Use with ``@pytest.mark.urls("tests.core.urls")``."""

from __future__ import annotations

import threading
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from core.api.auth import (
    ApiClientRateThrottle,
    IsApiClientOrStaff,
    api_client_of,
    client_system_ids,
    scope_to_client_systems,
)
from core.api.idempotency import IdempotentPostMixin
from core.api.pagination import paginated_response
from core.api.schema import problem_responses
from core.errors import ValidationFailed, field_error
from core.models import ApiClient


class State:
    """What the views did, for the tests to look at. Reset by the tests' autouse fixture."""

    calls: list[Any] = []
    fail_next = False
    nested: dict[str, Any] = {}
    started = threading.Event()
    proceed = threading.Event()

    @classmethod
    def reset(cls) -> None:
        cls.calls = []
        cls.fail_next = False
        cls.nested = {}
        cls.started = threading.Event()
        cls.proceed = threading.Event()


class ProbeApi(APIView):
    """GET ?raise=<kind> raises that kind of error."""

    def get(self, request: Request) -> Response:
        kind = request.query_params.get("raise", "")
        if kind == "application":
            raise ValidationFailed(
                "The reason is too generic.",
                errors=[field_error("reasons.0.code", "generic-reason", "Too vague.")],
            )
        if kind == "permission":
            raise exceptions.PermissionDenied()
        if kind == "http404":
            raise Http404("No Decision matches the given query.")
        if kind == "django-validation":
            from django.core.exceptions import ValidationError

            raise ValidationError({"score": ["Score out of range."]}, code="out_of_range")
        if kind == "throttled":
            raise exceptions.Throttled(wait=12.2)
        if kind == "boom":
            raise RuntimeError("password=hunter2 in /srv/secret/settings.py")
        return Response({"client": getattr(api_client_of(request), "name", None)})


class SubjectIn(serializers.Serializer):
    external_ref = serializers.CharField()
    language = serializers.ChoiceField(choices=["en", "es"])


class InputIn(serializers.Serializer):
    feature = serializers.CharField()
    value = serializers.IntegerField()


class ValidateIn(serializers.Serializer):
    system = serializers.SlugField()
    subject = SubjectIn()
    inputs = InputIn(many=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["system"] == "forbidden":
            raise serializers.ValidationError("This system takes no decisions.")
        return attrs


class ValidateApi(APIView):
    """POST only: validates a nested body."""

    def post(self, request: Request) -> Response:
        body = ValidateIn(data=request.data)
        body.is_valid(raise_exception=True)
        return Response({"ok": True})


class RecordOut(serializers.Serializer):
    n = serializers.IntegerField()
    echo = serializers.JSONField()


class RecordApi(IdempotentPostMixin, APIView):
    """An idempotent POST that counts its executions; {"refuse": true} answers 422, fail_next raises."""

    permission_classes = (IsApiClientOrStaff,)

    @extend_schema(
        request=serializers.JSONField, responses={201: RecordOut, **problem_responses(400, 401, 409, 422)}
    )
    def post(self, request: Request) -> Response:
        State.calls.append(request.data)
        if State.fail_next:
            State.fail_next = False
            raise RuntimeError("database exploded")
        if isinstance(request.data, dict) and request.data.get("refuse"):
            raise ValidationFailed(
                "Refused.", errors=[field_error("refuse", "refused", "Refused on request.")]
            )
        if isinstance(request.data, dict) and request.data.get("nested_key"):
            # While this request holds its key, send the same request again (same client, key and body).
            nested = APIClient()
            nested.credentials(
                HTTP_AUTHORIZATION=f"Bearer {request.data['nested_key']}",
                HTTP_IDEMPOTENCY_KEY=request.headers["Idempotency-Key"],
            )
            answer = nested.post(request.path, request.data, format="json")
            State.nested = {"status": answer.status_code, "body": answer.json()}
        if isinstance(request.data, dict) and request.data.get("block"):
            State.started.set()
            State.proceed.wait(timeout=30)
        return Response(
            {"n": len(State.calls), "echo": request.data},
            status=201,
            headers={"Location": f"/api/test/things/{len(State.calls)}/"},
        )


class OtherRecordApi(RecordApi):
    """The same view at another path."""


class ScopeApi(APIView):
    permission_classes = (IsApiClientOrStaff,)

    def get(self, request: Request) -> Response:
        from decisions.models import DecisionSystem

        ids = client_system_ids(request)
        visible = scope_to_client_systems(request, DecisionSystem.objects.all(), system_field="pk")
        return Response(
            {
                "ids": None if ids is None else sorted(ids),
                "slugs": sorted(visible.values_list("slug", flat=True)),
            }
        )


class ClientOut(serializers.Serializer):
    name = serializers.CharField()


class ClientListApi(APIView):
    permission_classes = (IsApiClientOrStaff,)
    cursor_ordering = "name"

    def get(self, request: Request) -> Response:
        return paginated_response(
            request=request, view=self, queryset=ApiClient.objects.all(), serializer_class=ClientOut
        )


class TwoPerMinute(ApiClientRateThrottle):
    rate = "2/min"


class ThrottledApi(APIView):
    throttle_classes = (TwoPerMinute,)

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class UploadApi(IdempotentPostMixin, APIView):
    """An idempotent multipart POST (like evidence uploads): answers the sizes of the files it read."""

    permission_classes = (IsApiClientOrStaff,)
    parser_classes = (MultiPartParser,)

    @extend_schema(request=None, responses={201: RecordOut, **problem_responses(400, 401, 409, 422)})
    def post(self, request: Request) -> Response:
        files = request.FILES.getlist("file")
        State.calls.append([f.name for f in files])
        return Response({"n": len(State.calls), "echo": [len(f.read()) for f in files]}, status=201)


def django_boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug outside DRF, with internals: /srv/secret")


urlpatterns = [
    path("api/test/probe/", ProbeApi.as_view()),
    path("api/test/validate/", ValidateApi.as_view()),
    path("api/test/record/", RecordApi.as_view()),
    path("api/test/upload/", UploadApi.as_view()),
    path("api/test/record-other/", OtherRecordApi.as_view()),
    path("api/test/scope/", ScopeApi.as_view()),
    path("api/test/clients/", ClientListApi.as_view()),
    path("api/test/throttled/", ThrottledApi.as_view()),
    path("api/test/django-boom/", django_boom),
    path("elsewhere/django-boom/", django_boom),
]

handler404 = "core.api.errors.handler404"
handler500 = "core.api.errors.handler500"
