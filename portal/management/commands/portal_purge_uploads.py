"""``manage.py portal_purge_uploads [--hours 24]``: delete evidence files held for journeys nobody sent.

People's documents wait in a private folder between the documents page and "Send" (portal.uploads). When a
session ends without sending, nothing else removes them; run this hourly (cron, or a beat entry for
``portal.tasks.purge_uploads``).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from portal.uploads import purge_stale


class Command(BaseCommand):
    help = "Delete evidence files held for portal journeys that were never sent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hours", type=int, default=None, help="Age after which a held folder goes (24)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        removed = purge_stale(hours=options["hours"])
        self.stdout.write(f"Removed {removed} held upload folder(s).")
