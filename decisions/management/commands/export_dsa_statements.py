"""Write a content system's DSA statements of reasons as submission files of at most 100 statements (S31).

    python manage.py export_dsa_statements --system content-moderation --out statements.json

writes ``statements.json`` with the first 100 statements, ``statements.json.2`` with the next 100, and so
on; each file is ``{"statements": [...]}``, the transparency database's batch body. Every statement is
checked against the schema and its x-rules first; nothing is written when one fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from decisions import dsa
from decisions.models import DecisionSystem


def part_path(out: Path, index: int) -> Path:
    """FILE for the first batch, FILE.2, FILE.3 ... for the next ones."""
    return out if index == 1 else out.with_name(f"{out.name}.{index}")


class Command(BaseCommand):
    help = "Export a content system's DSA statements of reasons: FILE, FILE.2, ... of at most 100 each."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--system", required=True, help="The decision system's slug.")
        parser.add_argument("--out", required=True, help="The first file; later batches get .2, .3, ...")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            system = DecisionSystem.objects.get(slug=options["system"])
        except DecisionSystem.DoesNotExist as exc:
            raise CommandError(f"No decision system with slug {options['system']!r}.") from exc
        out = Path(options["out"])
        try:
            batches = list(dsa.statement_batches(system))
        except ApplicationError as exc:
            details = "".join(f"\n  {e['field']}: {e['message']}" for e in exc.errors)
            raise CommandError(f"{exc.detail}{details}") from exc
        if not batches:
            batches = [[]]
        for index, batch in enumerate(batches, start=1):
            path = part_path(out, index)
            path.write_text(json.dumps({"statements": batch}, ensure_ascii=False, indent=1) + "\n", "utf-8")
        stale = len(batches) + 1
        while part_path(out, stale).exists():  # parts left from an earlier, larger export
            part_path(out, stale).unlink()
            stale += 1
        total = sum(len(b) for b in batches)
        files = ", ".join(str(part_path(out, i)) for i in range(1, len(batches) + 1))
        self.stdout.write(f"Wrote {total} statement(s) of {system.slug} to {files}")
