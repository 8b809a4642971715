"""``python manage.py transparency_report --period 2026-11 --format json|csv [--system SLUG] [--out FILE]``

The transparency report of one period (S31): per system, decisions, adverse rate, notices on time,
appeals, overturn rate, time to outcome, SLA breaches and the automated share. No personal data.
Written to standard output, or to FILE. Computed from the records as they are now (it writes nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import clock
from decisions.models import DecisionSystem
from oversight import reports
from oversight.periods import Period, PeriodInvalid


class Command(BaseCommand):
    help = "Write the transparency report of a period (S31) as JSON or CSV, with no personal data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--period", required=True, help="2026-11 (a month), 2026-W45 (an ISO week) or 2026-11-05 (a day)."
        )
        parser.add_argument("--format", choices=("json", "csv"), default="json")
        parser.add_argument("--system", action="append", default=[], help="Only this system (repeatable).")
        parser.add_argument("--out", help="Write to this file instead of standard output.")

    def handle(
        self, *args: Any, period: str, format: str, system: list[str], out: str | None, **options: Any
    ) -> None:
        try:
            p = Period.parse(period)
        except PeriodInvalid as exc:
            raise CommandError(str(exc)) from exc
        if not p.has_started(clock.now()):
            raise CommandError(f"{p.label} has not started yet.")
        systems = DecisionSystem.objects.all()
        if system:
            systems = systems.filter(slug__in=system)
            missing = sorted(set(system) - set(systems.values_list("slug", flat=True)))
            if missing:
                raise CommandError(f"No decision system {', '.join(missing)}.")
        report = reports.transparency_report(period=p, systems=systems)
        body = reports.as_csv(report) if format == "csv" else reports.as_json(report)
        if out:
            try:
                Path(out).write_text(body, encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"Cannot write {out}: {exc.strerror}") from exc
            self.stderr.write(
                f"Transparency report {p.label} ({len(report['systems'])} systems) written to {out}."
            )
        else:
            self.stdout.write(body, ending="")
