"""GET /healthz: 200 when the database answers (cache and broker only degrade it), 503 when it does not."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest
from django.db import OperationalError, connections
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never replies: the worst case for a probe."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    host, port = sock.getsockname()
    try:
        yield f"{host}:{port}"
    finally:
        sock.close()


def test_it_answers_200_with_every_check_ok_on_the_default_settings(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["database"]["vendor"] == connections["default"].vendor
    assert body["cache"]["ok"] is True
    assert body["broker"] == {"ok": True, "mode": "eager", "transport": "memory"}
    assert "no-cache" in response["Cache-Control"]


def test_it_answers_503_when_the_database_does_not_answer(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(connections["default"], "cursor", refuse)

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] is False
    assert body["database"]["error"] == "OperationalError"
    assert "connection refused" not in response.content.decode()


def test_it_reports_a_silent_broker_as_degraded_within_about_two_seconds(
    client: Client, settings, silent_server: str
) -> None:
    settings.CELERY_BROKER_URL = f"redis://{silent_server}/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False

    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started

    assert elapsed < 2.5
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["broker"]["ok"] is False
    assert body["broker"]["mode"] == "worker"
    assert body["broker"]["transport"] == "redis"
    assert body["database"]["ok"] is True
    assert silent_server not in response.content.decode()


def test_it_reports_a_refused_broker_connection_as_degraded(client: Client, settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port}/0"

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["broker"]["ok"] is False
    assert response.json()["broker"]["error"] == "ConnectionError"


def test_it_reports_a_silent_cache_as_degraded_without_hanging(
    client: Client, settings, silent_server: str
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://{silent_server}/0",
        }
    }

    started = time.monotonic()
    response = client.get("/healthz")

    assert time.monotonic() - started < 2.5
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["cache"]["ok"] is False
    assert body["cache"]["error"] == "timeout"
    assert body["cache"]["backend"] == "RedisCache"


def test_it_refuses_to_change_state(client: Client) -> None:
    assert client.post("/healthz").status_code == 405


@pytest.mark.skipif(
    not os.environ.get("CELERY_TEST_BROKER_URL"), reason="needs CELERY_TEST_BROKER_URL (Redis)"
)
def test_it_reaches_a_real_redis_broker(client: Client, settings) -> None:
    settings.CELERY_BROKER_URL = os.environ["CELERY_TEST_BROKER_URL"]
    settings.CELERY_TASK_ALWAYS_EAGER = False

    body = client.get("/healthz").json()

    assert body["broker"]["ok"] is True
    assert body["broker"]["mode"] == "worker"
    assert body["status"] == "ok"
