"""The project's Celery app for the real-worker test, on a queue of its own (``CONTESTABLE_TEST_QUEUE``),
so a worker another test run left on the same Redis never takes this run's messages, and the tasks this
worker queues itself (the sweep queues deliveries) come back to it.

Like the in-process outbox tests, the worker sets aside the delivered handlers that higher apps register
(the test's notices have made-up topics, which a decision handler would not find)."""

import os
from typing import Any

from celery.signals import worker_init

from config.celery import app

app.conf.task_default_queue = os.environ["CONTESTABLE_TEST_QUEUE"]


@worker_init.connect
def _set_aside_higher_apps_handlers(**kwargs: Any) -> None:
    from notifications import registry

    registry._delivered.clear()


__all__ = ["app"]
