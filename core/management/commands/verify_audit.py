"""Verify the audit chain (S28): ``python manage.py verify_audit``.

Read-only: it seals nothing. Exits 0 when the chain is intact (printing how many events were checked
and the head, which is worth keeping outside the database as an anchor), 1 naming the first broken
event when any event was altered, removed or reordered, or the tail was cut off.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import audit

EXIT_BROKEN = 1


def _anchor(value: str) -> tuple[int, str]:
    match = re.fullmatch(r"(\d+):([0-9a-f]{64})", value.strip())
    if not match:
        raise CommandError(f"--anchor must look like SEQ:HASH (64 lowercase hex digits), not {value!r}")
    return int(match.group(1)), match.group(2)


class Command(BaseCommand):
    help = "Walk the audit chain in order, recompute every hash, and name the first broken link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chunk-size", type=int, default=5000, help="rows fetched per round trip")
        parser.add_argument(
            "--stale-minutes",
            type=int,
            default=5,
            help="warn about unsealed events older than this (a seal was lost)",
        )
        parser.add_argument(
            "--anchor",
            type=str,
            default=None,
            help="SEQ:HASH of the head as recorded earlier outside the database; the event must match",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        anchor = _anchor(options["anchor"]) if options["anchor"] else None
        result = audit.verify(
            chunk_size=options["chunk_size"],
            stale_after=timedelta(minutes=options["stale_minutes"]),
            anchor=anchor,
        )
        if result.stale_unsealed and result.oldest_unsealed_at is not None:
            oldest = f"{result.oldest_unsealed_at:%Y-%m-%d %H:%M:%S} UTC"
            self.stderr.write(
                self.style.WARNING(
                    f"warning: {result.stale_unsealed} unsealed event(s) older than "
                    f"{options['stale_minutes']} minutes (oldest at {oldest}): a seal was lost. "
                    "core.tasks.seal_audit should chain them within a minute; "
                    "check that beat and a worker are running."
                )
            )
        if result.first_broken is not None:
            self.stderr.write(
                self.style.ERROR(
                    f"audit chain BROKEN at {result.first_broken} "
                    f"(stopped after reading {result.events_checked} event(s))"
                )
            )
            raise SystemExit(EXIT_BROKEN)
        pending = f", {result.unsealed} not yet sealed" if result.unsealed else ""
        self.stdout.write(
            self.style.SUCCESS(f"audit chain intact: {result.events_checked} event(s) checked{pending}")
        )
        self.stdout.write(f"head: {result.head_seq}:{result.head_hash}")
