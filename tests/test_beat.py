"""The static beat schedule (no django-celery-beat): every entry names a task that exists, so a typo never
silently stops a safeguard's periodic work (sweeps, escalation, stop switch, retention)."""

from django.conf import settings

from config.celery import app


def test_every_beat_entry_names_a_registered_task() -> None:
    app.loader.import_default_modules()
    missing = {
        name: entry["task"]
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
        if entry["task"] not in app.tasks
    }
    assert missing == {}


def test_the_periodic_work_the_safeguards_rely_on_is_scheduled() -> None:
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "core.tasks.seal_audit",  # S28
        "notifications.tasks.sweep_outbox",  # S15
        "decisions.tasks.make_due_decisions_effective",  # S11
        "appeals.tasks.escalate_overdue_appeals",  # S25
        "oversight.controls_tasks.stop_switch_sweep",  # S29
        "oversight.controls_tasks.retention_sweep",  # S33
        "portal.tasks.purge_uploads",
    } <= tasks
