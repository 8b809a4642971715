"""Health checks behind ``GET /healthz``: the database, the cache and the Celery broker.

The database decides the answer: without it nothing works, so a failed database check makes the endpoint
answer 503. The cache and the broker only degrade the service (pages still render, notices wait in the
outbox until the sweep re-queues them), so they are reported but the endpoint still answers 200.

No check may hang a probe: the cache and broker checks run with a deadline of about a second each
(``CHECK_TIMEOUT``), so the whole endpoint answers within about two seconds even when a server accepts
connections and never replies. Reports carry exception class names only, never URLs or messages that could
hold credentials or host names.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import caches
from django.db import connections

CHECK_TIMEOUT = 1.0  # seconds, per check that talks to another server

Report = dict[str, Any]


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _within(deadline: float, check: Callable[[], Report]) -> Report:
    """Run ``check`` in a daemon thread and give up after ``deadline`` seconds.

    A check that hangs past the deadline is abandoned (its thread ends when its own socket timeout fires)
    and reported as timed out; the request thread is never held longer than the deadline.
    """
    result: Report = {}

    def run() -> None:
        try:
            result.update(check())
        except Exception as exc:  # any failure is a report, never a 500
            result.update({"ok": False, "error": type(exc).__name__})

    worker = threading.Thread(target=run, name="healthz-check", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        return {"ok": False, "error": "timeout"}
    return dict(result)


def check_database(alias: str = "default") -> Report:
    """``SELECT 1`` on the request's own connection."""
    started = time.monotonic()
    conn = connections[alias]
    report: Report = {"vendor": conn.vendor}
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            row = cursor.fetchone()
        report["ok"] = row is not None and row[0] == 1
    except Exception as exc:
        report.update({"ok": False, "error": type(exc).__name__})
    report["latency_ms"] = _ms(started)
    return report


def _cache_roundtrip() -> Report:
    cache = caches["default"]
    key = f"healthz:{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    cache.set(key, token, timeout=10)
    ok = cache.get(key) == token
    cache.delete(key)
    return {"ok": ok} if ok else {"ok": False, "error": "value-mismatch"}


def check_cache(timeout: float = CHECK_TIMEOUT) -> Report:
    """Set a throwaway key, read it back, delete it."""
    started = time.monotonic()
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    report = {"backend": backend, **_within(timeout, _cache_roundtrip)}
    report["latency_ms"] = _ms(started)
    return report


def _ping_broker(url: str, timeout: float) -> Callable[[], Report]:
    scheme = urlsplit(url).scheme

    def ping() -> Report:
        if scheme in {"redis", "rediss"}:
            import redis

            client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
            try:
                return {"ok": bool(client.ping())}
            finally:
                client.close()
        from kombu import Connection

        with Connection(url, connect_timeout=timeout) as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=math.ceil(timeout)
            )
            return {"ok": bool(conn.connected)}

    return ping


def check_broker(timeout: float = CHECK_TIMEOUT) -> Report:
    """``memory://`` means tasks run eagerly in process: nothing to reach. Otherwise connect, briefly."""
    url: str = settings.CELERY_BROKER_URL
    scheme = urlsplit(url).scheme or "memory"
    mode = "eager" if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False) else "worker"
    if scheme == "memory":
        return {"ok": True, "mode": "eager", "transport": "memory"}
    started = time.monotonic()
    # The socket timeouts end the abandoned thread soon after the deadline.
    report = {"mode": mode, "transport": scheme, **_within(timeout, _ping_broker(url, timeout))}
    report["latency_ms"] = _ms(started)
    return report


def health() -> tuple[int, Report]:
    """The status code and body of ``/healthz``."""
    database = check_database()
    cache = check_cache()
    broker = check_broker()
    if not database["ok"]:
        status, code = "unavailable", 503
    elif cache["ok"] and broker["ok"]:
        status, code = "ok", 200
    else:
        status, code = "degraded", 200
    return code, {"status": status, "database": database, "cache": cache, "broker": broker}
