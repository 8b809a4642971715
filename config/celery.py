"""The Celery application.

With no CELERY_BROKER_URL the broker is ``memory://`` and tasks run eagerly in process (after commit,
because services queue them with ``delay_on_commit``), so ``make run`` needs no other service.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("contestable")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
