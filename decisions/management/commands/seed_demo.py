"""``python manage.py seed_demo [--scale 0.1]``: build the demo house (decisions.demo), idempotently."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings

from decisions import demo


class Command(BaseCommand):
    help = (
        "Load the demo: three live decision systems (credit-limit, benefit-eligibility, content-moderation) "
        "with a few hundred decisions, demo staff logins and a demo API client per system, then the steps "
        "other apps registered (appeals in every state, fairness data, figures). Running it again adds only "
        "what is missing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="Share of the demo decisions to record (1 = 300 credit, 200 benefits, 250 content).",
        )

    def handle(self, *args: Any, scale: float, **options: Any) -> None:
        if not 0 < scale <= 10:
            raise CommandError("--scale must be above 0 and at most 10.")
        started = time.monotonic()
        with self._demo_mailbox() as mailbox, self._quiet_task_logs():
            report = demo.seed(scale=scale)
        out = self.stdout.write
        if mailbox:
            out(f"Demo notices were emailed to files in {mailbox} (and are in the staff Outbox page).")
        for slug in demo.SYSTEM_SLUGS:
            created = report.decisions_created.get(slug, 0)
            out(f"  {slug}: {created} new decision(s), {report.decisions_total.get(slug, 0)} in all")
        for problem in report.refused:
            self.stderr.write(f"  refused: {problem}")
        for name, step in report.steps:
            out(f"{name} ({report.seconds.get(name, 0):.1f} s):")
            for line in step.lines:
                out(f"  {line}")
        if report.api_keys:
            out("Demo API keys (shown once; store them now):")
            for slug, key in report.api_keys.items():
                out(f"  {slug}: {key}")
        out("Demo staff logins:")
        for u in demo.USERS:
            roles = ", ".join(u.groups) + (" (superuser)" if u.superuser else "")
            out(f"  {u.username} / {u.password}  [{roles}]")
        if report.try_this:
            out("Try this:")
            for n, line in enumerate(report.try_this, start=1):
                out(f"  {n}. {line}")
        out(self.style.SUCCESS(f"Demo ready in {time.monotonic() - started:.1f} s."))
        if report.refused:
            raise CommandError(f"{len(report.refused)} demo decision(s) were refused; see above.")

    @contextlib.contextmanager
    def _quiet_task_logs(self) -> Iterator[None]:
        """Celery runs eagerly here and logs a line per task (a few hundred while seeding): keep its
        warnings and errors, not the success lines that would push the "try this" list off the screen."""
        logger = logging.getLogger("celery.app.trace")
        level = logger.level
        logger.setLevel(max(level, logging.WARNING))
        try:
            yield
        finally:
            logger.setLevel(level)

    @contextlib.contextmanager
    def _demo_mailbox(self) -> Iterator[str]:
        """With the default console backend, the demo's several hundred notice emails would flood the
        terminal that ``make run`` prints its instructions to: while seeding, write them to files under
        the var directory instead. A configured backend (SMTP, file, ...) is used as it is."""
        if settings.EMAIL_BACKEND != "django.core.mail.backends.console.EmailBackend":
            yield ""
            return
        path = Path(getattr(settings, "VAR_DIR", Path.cwd() / "var")) / "demo-mail"
        path.mkdir(parents=True, exist_ok=True)
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=str(path)
        ):
            yield str(path)
