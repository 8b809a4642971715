"""The project's Celery app for the real-worker test, on a queue of its own (``CONTESTABLE_TEST_QUEUE``),
so a worker another test run left on the same Redis never takes this run's messages, and the tasks this
worker queues itself (the sweep queues deliveries) come back to it."""

import os

from config.celery import app

app.conf.task_default_queue = os.environ["CONTESTABLE_TEST_QUEUE"]

__all__ = ["app"]
