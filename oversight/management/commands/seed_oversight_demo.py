"""``python manage.py seed_oversight_demo``: the demo's fairness data and figures (run after seed_demo)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from oversight import demo


class Command(BaseCommand):
    help = (
        "Give demo subjects a synthetic age band in the separate fairness store (S32) and build the figure "
        "rollups for the oversight pages. Idempotent."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = demo.seed()
        self.stdout.write(
            f"Fairness store: {report.recorded} new synthetic '{demo.ATTRIBUTE}' value(s), "
            f"{report.subjects_with_data} subject(s) in all. Figures: {report.rollups} rollup row(s) built."
        )
