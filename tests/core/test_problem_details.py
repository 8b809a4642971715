"""Every API error answers RFC 9457 problem details (application/problem+json), never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client
from django.urls import get_resolver
from drf_spectacular.generators import SchemaGenerator

from core.api.errors import PROBLEM_CONTENT_TYPE, field_errors, known_problem_types
from core.errors import ApplicationError
from tests.core.api_helpers import bearer, new_client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls")]


@pytest.fixture
def key() -> str:
    return new_client()[1]


def problem(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    body = response.json()
    assert body["status"] == response.status_code
    assert body["type"] == f"/problems/{body['code']}"
    assert {"title", "detail", "instance"} <= body.keys()
    return body


def test_a_service_error_answers_its_code_status_and_field_errors(client: Client, key: str) -> None:
    response = client.get("/api/test/probe/?raise=application", **bearer(key))

    assert response.status_code == 422
    body = problem(response)
    assert body["code"] == "validation-failed"
    assert body["detail"] == "The reason is too generic."
    assert body["instance"] == "/api/test/probe/"
    assert body["errors"] == [{"field": "reasons.0.code", "code": "generic-reason", "message": "Too vague."}]


def test_drf_validation_errors_are_listed_by_dotted_field_path(client: Client, key: str) -> None:
    body_in = {
        "system": "credit limit!",
        "subject": {"external_ref": "C-1", "language": "fr"},
        "inputs": [{"feature": "income", "value": 1}, {"feature": "age", "value": 2}, {"value": "x"}],
    }
    response = client.post("/api/test/validate/", body_in, content_type="application/json", **bearer(key))

    assert response.status_code == 400
    body = problem(response)
    assert body["code"] == "invalid-request"
    by_field = {e["field"]: e for e in body["errors"]}
    assert set(by_field) == {"system", "subject.language", "inputs.2.feature", "inputs.2.value"}
    assert by_field["inputs.2.feature"]["code"] == "required"
    assert by_field["inputs.2.feature"]["message"] == "This field is required."
    assert by_field["subject.language"]["code"] == "invalid_choice"
    assert by_field["inputs.2.value"]["code"] == "invalid"


def test_an_error_of_the_whole_body_has_an_empty_field(client: Client, key: str) -> None:
    body_in = {"system": "forbidden", "subject": {"external_ref": "C-1", "language": "en"}, "inputs": []}
    response = client.post("/api/test/validate/", body_in, content_type="application/json", **bearer(key))

    body = problem(response)
    assert body["errors"] == [{"field": "", "code": "invalid", "message": "This system takes no decisions."}]
    assert body["detail"] == "This system takes no decisions."


def test_field_errors_flatten_nested_lists_and_skip_valid_items() -> None:
    from rest_framework.exceptions import ErrorDetail

    detail = {
        "non_field_errors": [ErrorDetail("Bad body.", code="invalid")],
        "reasons": [{}, {"code": [ErrorDetail("Unknown.", code="unknown")]}],
        "tags": {"1": [ErrorDetail("Too long.", code="max_length")]},
    }
    assert field_errors(detail) == [
        {"field": "", "code": "invalid", "message": "Bad body."},
        {"field": "reasons.1.code", "code": "unknown", "message": "Unknown."},
        {"field": "tags.1", "code": "max_length", "message": "Too long."},
    ]


def test_malformed_json_answers_a_400_problem(client: Client, key: str) -> None:
    response = client.post(
        "/api/test/validate/", '{"system": ', content_type="application/json", **bearer(key)
    )

    assert response.status_code == 400
    assert problem(response)["code"] == "malformed-request"


def test_no_credentials_answers_401_with_a_bearer_challenge(client: Client) -> None:
    response = client.get("/api/test/probe/")

    assert response.status_code == 401
    assert problem(response)["code"] == "not-authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_permission_refusal_answers_403(client: Client, key: str) -> None:
    response = client.get("/api/test/probe/?raise=permission", **bearer(key))

    assert response.status_code == 403
    assert problem(response)["code"] == "permission-denied"


def test_http404_answers_a_404_problem_without_the_query_internals(client: Client, key: str) -> None:
    response = client.get("/api/test/probe/?raise=http404", **bearer(key))

    assert response.status_code == 404
    body = problem(response)
    assert body["code"] == "not-found"
    assert "Decision" not in body["detail"]


def test_a_django_validation_error_in_a_service_is_a_400_not_a_500(client: Client, key: str) -> None:
    response = client.get("/api/test/probe/?raise=django-validation", **bearer(key))

    assert response.status_code == 400
    body = problem(response)
    assert body["errors"] == [{"field": "score", "code": "invalid", "message": "Score out of range."}]


def test_a_wrong_method_answers_405(client: Client, key: str) -> None:
    response = client.get("/api/test/validate/", **bearer(key))

    assert response.status_code == 405
    assert problem(response)["code"] == "method-not-allowed"
    assert "POST" in response["Allow"]


def test_a_body_that_is_not_json_answers_415(client: Client, key: str) -> None:
    response = client.post("/api/test/validate/", "system=x", content_type="text/plain", **bearer(key))

    assert response.status_code == 415
    assert problem(response)["code"] == "unsupported-media-type"


def test_throttling_answers_429_with_retry_after(client: Client, key: str) -> None:
    response = client.get("/api/test/probe/?raise=throttled", **bearer(key))

    assert response.status_code == 429
    assert problem(response)["code"] == "throttled"
    assert response["Retry-After"] == "13"


def test_an_api_client_over_its_rate_gets_429_and_other_clients_do_not(client: Client, key: str) -> None:
    from django.core.cache import cache

    cache.clear()
    _, other = new_client("Beta Benefits")

    statuses = [client.get("/api/test/throttled/", **bearer(key)).status_code for _ in range(3)]
    response = client.get("/api/test/throttled/", **bearer(key))

    assert statuses == [200, 200, 429]
    assert problem(response)["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    assert client.get("/api/test/throttled/", **bearer(other)).status_code == 200


def test_a_bug_answers_a_500_problem_that_leaks_nothing_and_is_logged(
    client: Client, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="core.api"):
        response = client.get("/api/test/probe/?raise=boom", **bearer(key))

    assert response.status_code == 500
    body = problem(response)
    assert body["code"] == "server-error"
    assert "hunter2" not in response.content.decode()
    assert "secret" not in response.content.decode()
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)


def test_djangos_own_500_on_an_api_path_is_a_problem(key: str) -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/api/test/django-boom/")

    assert response.status_code == 500
    body = problem(response)
    assert body["code"] == "server-error"
    assert "/srv/secret" not in response.content.decode()


def test_djangos_own_500_elsewhere_stays_html() -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/elsewhere/django-boom/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.urls("config.urls")
def test_an_unknown_api_address_answers_a_404_problem(client: Client) -> None:
    response = client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    body = problem(response)
    assert body["code"] == "not-found"
    assert body["instance"] == "/api/v1/no-such-thing/"


@pytest.mark.urls("config.urls")
def test_an_unknown_page_outside_the_api_is_not_a_problem(client: Client) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_the_project_urlconf_points_djangos_handlers_at_the_problem_handlers() -> None:
    from core.api import errors

    resolver = get_resolver("config.urls")
    assert resolver.resolve_error_handler(404) is errors.handler404
    assert resolver.resolve_error_handler(500) is errors.handler500


@pytest.mark.urls("config.urls")
def test_each_problem_code_has_a_page_describing_it(client: Client) -> None:
    response = client.get("/problems/idempotency-key-missing/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "An Idempotency-Key header is needed" in page
    assert "idempotency-key-reused" in page  # links to the other codes


@pytest.mark.urls("config.urls")
def test_a_problem_page_answers_json_when_json_is_asked_for(client: Client) -> None:
    response = client.get("/problems/validation-failed/", HTTP_ACCEPT="application/json")

    assert response.json() == {
        "code": "validation-failed",
        "title": "The request is not valid",
        "status": 422,
        "description": response.json()["description"],
    }
    assert response.json()["description"]


@pytest.mark.urls("config.urls")
def test_an_application_error_subclass_elsewhere_is_described_without_registration(client: Client) -> None:
    class GenericReason(ApplicationError):
        """A reason like "insufficient score" says nothing the person can act on (S6)."""

        code = "test-generic-reason"
        status = 422
        title = "The reason is too generic"

    response = client.get("/problems/test-generic-reason/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json()["description"].startswith("A reason like")


@pytest.mark.urls("config.urls")
def test_an_unknown_problem_code_answers_404(client: Client) -> None:
    assert client.get("/problems/no-such-problem/").status_code == 404
    response = client.get("/problems/no-such-problem/", HTTP_ACCEPT="application/json")
    assert response.status_code == 404
    assert problem(response)["code"] == "not-found"


@pytest.mark.urls("config.urls")
def test_every_code_the_api_layer_raises_has_a_page(client: Client) -> None:
    codes = {p.code for p in known_problem_types()}
    raised = {
        "invalid-request",
        "malformed-request",
        "not-authenticated",
        "api-key-invalid",
        "api-key-revoked",
        "permission-denied",
        "not-found",
        "method-not-allowed",
        "unsupported-media-type",
        "throttled",
        "server-error",
        "idempotency-key-missing",
        "idempotency-key-invalid",
        "idempotency-key-reused",
        "idempotency-key-in-flight",
    }
    assert raised <= codes
    for code in raised:
        assert client.get(f"/problems/{code}/").status_code == 200


def test_the_schema_declares_4xx_as_problem_details_and_the_bearer_scheme() -> None:
    from tests.core import urls

    schema = SchemaGenerator(patterns=urls.urlpatterns).get_schema(request=None, public=True)

    post = schema["paths"]["/api/test/record/"]["post"]
    for status in ("400", "401", "409", "422"):
        content = post["responses"][status]["content"]
        assert content[PROBLEM_CONTENT_TYPE]["schema"] == {"$ref": "#/components/schemas/ProblemDetails"}
    assert "201" in post["responses"]
    problem_schema = schema["components"]["schemas"]["ProblemDetails"]
    assert {"type", "title", "status", "detail", "instance", "code", "errors"} <= problem_schema[
        "properties"
    ].keys()
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "ctb_<prefix>_<secret>",
        "description": schema["components"]["securitySchemes"]["ApiKey"]["description"],
    }
