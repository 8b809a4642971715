"""Idempotency-Key on API POSTs: replay, 422 on another body, 409 in flight, crash recovery, pruning."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from core import idempotency, tasks
from core.models import ApiClient, IdempotencyKey, User
from tests.core.api_helpers import bearer, new_client
from tests.core.urls import State

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls")]

URL = "/api/test/record/"


@pytest.fixture(autouse=True)
def fresh_state() -> Iterator[None]:
    State.reset()
    yield
    State.proceed.set()


@pytest.fixture
def acme() -> tuple[ApiClient, str]:
    return new_client("Acme Scoring")


def post(client: Client, key: str, body: Any, idem: str | None = "key-1", url: str = URL) -> Any:
    extra = bearer(key)
    if idem is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = idem
    raw = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, raw, content_type="application/json", **extra)


def test_a_post_without_the_header_is_refused_before_the_view_runs(client: Client, acme: Any) -> None:
    response = post(client, acme[1], {"a": 1}, idem=None)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency-key-missing"
    assert State.calls == []


def test_a_key_longer_than_255_characters_is_refused(client: Client, acme: Any) -> None:
    response = post(client, acme[1], {"a": 1}, idem="k" * 256)

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency-key-invalid"
    assert State.calls == []


def test_a_staff_session_may_post_without_the_header(client: Client) -> None:
    client.force_login(User.objects.create_user("officer", is_staff=True))

    response = client.post(URL, {"a": 1}, content_type="application/json")

    assert response.status_code == 201
    assert len(State.calls) == 1
    assert not IdempotencyKey.objects.exists()


def test_the_same_key_and_body_replays_the_first_response(client: Client, acme: Any) -> None:
    first = post(client, acme[1], '{"a": 1, "b": {"c": [1, 2]}}')
    again = post(client, acme[1], '{ "b" : {"c": [1,2]},\n  "a":1 }')  # same JSON, other whitespace and order

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() == {"n": 1, "echo": {"a": 1, "b": {"c": [1, 2]}}}
    assert again["Location"] == first["Location"] == "/api/test/things/1/"
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert again["Content-Type"] == "application/json"
    assert len(State.calls) == 1


def test_a_multipart_upload_is_fingerprinted_by_file_content_and_replayed(client: Client, acme: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    def upload(content: bytes) -> Any:
        return client.post(
            "/api/test/upload/",
            {"file": SimpleUploadedFile("scan.pdf", content, content_type="application/pdf"), "note": "x"},
            HTTP_IDEMPOTENCY_KEY="upload-1",
            **bearer(acme[1]),
        )

    first = upload(b"%PDF-1.4 first")
    again = upload(b"%PDF-1.4 first")
    other = upload(b"%PDF-1.4 other!")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() == {"n": 1, "echo": [14]}  # the view read the whole file once
    assert again["Idempotent-Replayed"] == "true"
    assert other.status_code == 422  # same key, same name and field, different bytes
    assert len(State.calls) == 1


def test_the_same_key_with_a_different_body_answers_422(client: Client, acme: Any) -> None:
    post(client, acme[1], {"a": 1})

    response = post(client, acme[1], {"a": 2})

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency-key-reused"
    assert len(State.calls) == 1


def test_the_same_key_on_another_endpoint_answers_422(client: Client, acme: Any) -> None:
    post(client, acme[1], {"a": 1})

    response = post(client, acme[1], {"a": 1}, url="/api/test/record-other/")

    assert response.status_code == 422
    assert len(State.calls) == 1


def test_keys_are_scoped_to_the_api_client(client: Client, acme: Any) -> None:
    _, other_key = new_client("Beta Benefits")

    post(client, acme[1], {"a": 1})
    response = post(client, other_key, {"a": 1})

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert len(State.calls) == 2


def test_a_request_still_in_flight_with_the_key_answers_409(client: Client, acme: Any) -> None:
    # The view sends the same request again while it still holds the key: a real in-flight duplicate.
    response = post(client, acme[1], {"nested_key": acme[1]})

    assert response.status_code == 201
    assert State.nested["status"] == 409
    assert State.nested["body"]["code"] == "idempotency-key-in-flight"
    assert len(State.calls) == 1
    # Once the first has finished, a retry gets its response.
    assert post(client, acme[1], {"nested_key": acme[1]})["Idempotent-Replayed"] == "true"


def in_flight(api_client: ApiClient, body: Any, age: timedelta) -> IdempotencyKey:
    """The row left by a request that claimed "key-1" for ``body`` ``age`` ago and is running (or died)."""
    return IdempotencyKey.objects.create(
        client=api_client,
        key="key-1",
        method="POST",
        path=URL,
        request_hash=idempotency.request_fingerprint(method="POST", path=URL, body=body),
        created_at=timezone.now() - age,
    )


def test_a_fresh_in_flight_row_answers_409_to_a_retry(client: Client, acme: Any) -> None:
    in_flight(acme[0], {"a": 1}, age=timedelta(seconds=30))

    response = post(client, acme[1], {"a": 1})

    assert response.status_code == 409
    assert State.calls == []


def test_an_abandoned_in_flight_row_is_taken_over(client: Client, acme: Any) -> None:
    in_flight(acme[0], {"a": 1}, age=idempotency.in_flight_timeout() + timedelta(seconds=1))

    response = post(client, acme[1], {"a": 1})

    assert response.status_code == 201
    assert len(State.calls) == 1
    row = IdempotencyKey.objects.get()
    assert (row.status, row.response_status) == (IdempotencyKey.Status.DONE, 201)


def test_a_failed_request_gives_the_key_back_so_a_retry_runs(client: Client, acme: Any) -> None:
    State.fail_next = True

    failed = post(client, acme[1], {"a": 1})

    assert failed.status_code == 500
    assert failed.json()["code"] == "server-error"
    assert not IdempotencyKey.objects.exists()

    retried = post(client, acme[1], {"a": 1})

    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert len(State.calls) == 2


def test_a_refusal_is_stored_and_replayed_like_a_success(client: Client, acme: Any) -> None:
    first = post(client, acme[1], {"refuse": True})
    again = post(client, acme[1], {"refuse": True})

    assert first.status_code == again.status_code == 422
    assert again["Content-Type"] == "application/problem+json"
    assert again.json() == first.json()
    assert again.json()["code"] == "validation-failed"
    assert again["Idempotent-Replayed"] == "true"
    assert len(State.calls) == 1


def test_malformed_json_stores_nothing(client: Client, acme: Any) -> None:
    response = post(client, acme[1], '{"a": ')

    assert response.status_code == 400
    assert response.json()["code"] == "malformed-request"
    assert not IdempotencyKey.objects.exists()


def test_an_expired_key_no_longer_binds(client: Client, acme: Any) -> None:
    post(client, acme[1], {"a": 1})
    IdempotencyKey.objects.update(created_at=timezone.now() - idempotency.key_ttl() - timedelta(minutes=1))

    response = post(client, acme[1], {"a": 2})

    assert response.status_code == 201
    assert response.json()["n"] == 2


def test_pruning_deletes_keys_older_than_the_ttl_only(acme: Any) -> None:
    api_client, _ = acme
    now = timezone.now()
    for name, age in [("old", timedelta(hours=25)), ("fresh", timedelta(hours=23))]:
        IdempotencyKey.objects.create(
            client=api_client, key=name, method="POST", path=URL, request_hash="0" * 64, created_at=now - age
        )

    assert tasks.prune_idempotency_keys() == 1

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


@pytest.mark.urls("config.urls")
def test_every_post_of_the_project_api_requires_an_idempotency_key() -> None:
    from django.urls import URLPattern, URLResolver, get_resolver
    from rest_framework.views import APIView

    def views(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from views(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern), getattr(p.callback, "cls", None)

    missing = [
        route
        for route, cls in views(get_resolver("config.urls").url_patterns)
        if route.startswith("api/") and cls and issubclass(cls, APIView) and hasattr(cls, "post")
        if not getattr(cls.post, "idempotent", False)
    ]
    assert missing == [], "use core.api.idempotency.IdempotentPostMixin (or @idempotent) on these POSTs"


def test_canonical_json_ignores_whitespace_and_key_order() -> None:
    a = json.loads('{"b": [1, {"y": 2, "x": 1}], "a": "é"}')
    b = json.loads('{"a":"\\u00e9","b":[1,{"x":1,"y":2}]}')

    assert idempotency.canonical_json(a) == idempotency.canonical_json(b)
    assert idempotency.request_fingerprint(
        method="POST", path="/x", body=a
    ) != idempotency.request_fingerprint(method="POST", path="/y", body=a)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_run_once_on_postgres(acme: Any) -> None:
    assert connection.vendor == "postgresql"
    _, key = acme
    results: dict[str, Any] = {}

    def first() -> None:
        try:
            results["first"] = post(Client(), key, {"block": True})
        finally:
            from django.db import connections

            connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert State.started.wait(timeout=10), "the first request never started"
        second = post(Client(), key, {"block": True})
        assert second.status_code == 409
        assert second.json()["code"] == "idempotency-key-in-flight"
    finally:
        State.proceed.set()
        thread.join(timeout=30)

    assert results["first"].status_code == 201
    third = post(Client(), key, {"block": True})
    assert third.status_code == 201
    assert third["Idempotent-Replayed"] == "true"
    assert len(State.calls) == 1
