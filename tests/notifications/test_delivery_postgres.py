"""Delivery under real concurrency (PostgreSQL, threads) and through a real Celery worker on Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection, connections
from django.utils import timezone

from config.celery import app as celery_app
from notifications import services
from notifications.models import Notice
from notifications.services import notice_create, notice_deliver
from tests.notifications.backends import FlakyBackend

BROKER = os.environ.get("CELERY_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def lost_messages(monkeypatch):
    """Every on-commit delivery message is lost (as if the broker dropped it)."""
    monkeypatch.setattr(services, "queue_notice_delivery", lambda ids: None)


def run_together(n: int, target) -> list:
    """Run ``target()`` in ``n`` threads released at the same moment; return their results."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = target()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_the_same_notice_at_once_send_it_once(spec, actor, settings, lost_messages):
    settings.EMAIL_BACKEND = "tests.notifications.backends.FlakyBackend"
    FlakyBackend.reset()
    FlakyBackend.delay = 0.5  # a slow mail server widens the race
    notice = notice_create(spec=spec(), actor=actor)

    outcomes = run_together(4, lambda: notice_deliver(notice_id=notice.pk).outcome)

    assert sorted(outcomes) == ["delivered", "skipped", "skipped", "skipped"]
    assert FlakyBackend.calls == 1
    assert len(mail.outbox) == 1
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (Notice.Status.DELIVERED, 1)
    FlakyBackend.reset()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_recovering_the_same_stuck_notice_send_it_once(spec, actor, settings, lost_messages):
    settings.EMAIL_BACKEND = "tests.notifications.backends.FlakyBackend"
    FlakyBackend.reset()
    FlakyBackend.delay = 0.3
    notice = notice_create(spec=spec(), actor=actor)
    stale = timezone.now() - services.sending_lease() - timedelta(seconds=5)
    Notice.objects.filter(pk=notice.pk).update(status=Notice.Status.SENDING, sending_started_at=stale)

    outcomes = run_together(3, lambda: notice_deliver(notice_id=notice.pk).outcome)

    assert sorted(outcomes) == ["delivered", "skipped", "skipped"]
    assert FlakyBackend.calls == 1
    FlakyBackend.reset()


# --------------------------------------------------------------------------------------------------------
# A real worker


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[dict]:
    """A real ``celery worker`` subprocess on Redis, using this test's database and writing email to files.
    The test process publishes to the same broker and queue. The worker is always stopped."""
    queue = f"contestable-test-{uuid.uuid4().hex[:12]}"
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    env = {
        **os.environ,
        "CELERY_BROKER_URL": BROKER,
        "DATABASE_URL": database_url(),
        "EMAIL_URL": f"filemail:///{mail_dir}",  # environ drops one slash: keep the path absolute
        "CONTESTABLE_TEST_QUEUE": queue,
        "CONN_MAX_AGE": "0",
    }
    log = (tmp_path / "worker.log").open("w")
    proc = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.notifications.worker_app",
            "worker",
            "-P",
            "solo",
            "-c",
            "1",
            "-Q",
            queue,
            "-l",
            "info",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    saved = {k: celery_app.conf[k] for k in ("broker_url", "task_always_eager", "task_default_queue")}
    celery_app.conf.update(broker_url=BROKER, task_always_eager=False, task_default_queue=queue)
    celery_app.__dict__.pop("amqp", None)  # rebuilt from the new settings
    celery_app._pool = None  # type: ignore[attr-defined]
    try:
        yield {"mail_dir": mail_dir, "log": tmp_path / "worker.log", "proc": proc}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        except ProcessLookupError:
            pass
        log.close()
        if celery_app._pool is not None:  # type: ignore[attr-defined]
            celery_app._pool.force_close_all()  # type: ignore[attr-defined]
        celery_app.conf.update(saved)
        celery_app.__dict__.pop("amqp", None)
        celery_app._pool = None  # type: ignore[attr-defined]
        import redis

        redis.Redis.from_url(BROKER).delete(queue)


def wait_for(predicate, *, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out after {seconds}s waiting for {what}; worker log:\n{log.read_text()[-4000:]}")


def status_of(notice: Notice) -> str:
    return Notice.objects.values_list("status", flat=True).get(pk=notice.pk)


@pytest.mark.postgres
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_on_redis_delivers_a_notice_and_the_sweep_recovers_a_lost_one(
    spec, actor, worker, monkeypatch
):
    # 1. The ordinary path: committed, queued on commit, delivered by the worker.
    notice = notice_create(spec=spec(subject="Our decision about your credit limit"), actor=actor)
    wait_for(
        lambda: status_of(notice) == "delivered", seconds=60, what="the worker to deliver", log=worker["log"]
    )
    files = list(worker["mail_dir"].iterdir())
    assert len(files) == 1
    sent = files[0].read_text()
    assert "Subject: Our decision about your credit limit" in sent
    assert f"Message-ID: <notice-{notice.pk}@" in sent
    assert "To: ana@example.org" in sent

    # 2. A lost message: the queueing after commit never reaches the broker. The beat's sweep task,
    #    run by the worker, finds the notice and delivers it.
    with monkeypatch.context() as m:
        m.setattr(services, "queue_notice_delivery", lambda ids: None)
        lost = notice_create(spec=spec(subject="A notice whose message was lost"), actor=actor)
    Notice.objects.filter(pk=lost.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=2))
    time.sleep(1)
    assert status_of(lost) == "pending"

    from notifications.tasks import sweep_outbox

    sweep_outbox.delay()
    wait_for(
        lambda: status_of(lost) == "delivered", seconds=60, what="the sweep to recover", log=worker["log"]
    )
    assert len(list(worker["mail_dir"].iterdir())) == 2


def test_the_sweep_is_on_the_beat_schedule_every_minute():
    from notifications.tasks import sweep_outbox

    entries = [e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == sweep_outbox.name]
    assert len(entries) == 1
    assert entries[0]["schedule"] == 60.0
