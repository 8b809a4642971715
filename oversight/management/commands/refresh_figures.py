"""``python manage.py refresh_figures [--system SLUG] [--period 2026-11] [--recent]``

Recompute the oversight figure rollups now: every period of every system by default (a full build), one
system's, one period's (its days and the weeks and months around them), or only the recent periods the
periodic task refreshes. Rollups are derived data: this changes nothing else and writes no audit event.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from decisions.models import DecisionSystem
from oversight import services
from oversight.periods import Period, PeriodInvalid


class Command(BaseCommand):
    help = "Recompute the oversight figures (all of them, one system's, one period's, or the recent ones)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--system", help="Only this system (its slug).")
        parser.add_argument("--period", help="Only this period: 2026-11, 2026-W45 or 2026-11-05.")
        parser.add_argument("--recent", action="store_true", help="What the periodic task refreshes.")

    def handle(
        self, *args: Any, system: str | None, period: str | None, recent: bool, **options: Any
    ) -> None:
        started = time.monotonic()
        if recent:
            if system or period:
                raise CommandError("--recent refreshes every system's recent periods: give it alone.")
            result = services.figures_refresh_recent()
        else:
            chosen = None
            if system:
                chosen = DecisionSystem.objects.filter(slug=system).first()
                if chosen is None:
                    raise CommandError(f"No decision system {system}.")
            try:
                p = Period.parse(period) if period else None
            except PeriodInvalid as exc:
                raise CommandError(str(exc)) from exc
            result = services.figures_refresh(system=chosen, period=p)
        span = f"{result.first_day} to {result.end_day}" if result.first_day else "nothing to count"
        self.stdout.write(
            f"Figures: {result.rows} rollup row(s) written ({span}) in {time.monotonic() - started:.1f} s."
        )
