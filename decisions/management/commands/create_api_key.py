"""manage.py create_api_key --name NAME --system SLUG [--system SLUG]

Creates an API client scoped to the named decision systems and prints its key, alone, on the last line
(the only time it is shown). When a client with that name exists, issues it a new key and adds the systems.
An unknown slug fails before anything is written.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from core import apikeys
from core.actors import Actor
from core.errors import ApplicationError
from core.models import ApiClient
from decisions.models import DecisionSystem

ACTOR = Actor.system("manage.py create_api_key")


class Command(BaseCommand):
    help = (
        "Create an API client for decision systems (or issue a new key to an existing one) and print the key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="The integrator's name (unique).")
        parser.add_argument(
            "--system",
            dest="systems",
            action="append",
            required=True,
            metavar="SLUG",
            help="Slug of a decision system the key may act on; repeat for several.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["name"].strip()
        slugs: list[str] = list(dict.fromkeys(options["systems"]))
        if not name:
            raise CommandError("--name must not be empty.")
        systems = list(DecisionSystem.objects.filter(slug__in=slugs).order_by("slug"))
        unknown = sorted(set(slugs) - {s.slug for s in systems})
        if unknown:
            raise CommandError(f"Unknown decision system: {', '.join(unknown)}. Nothing was created.")
        try:
            with transaction.atomic():
                client = ApiClient.objects.select_for_update().filter(name=name).first()
                if client is None:
                    client, plaintext = apikeys.api_client_create(name=name, systems=systems, actor=ACTOR)
                    what = f"Created API client {name!r}"
                else:
                    _key, plaintext = apikeys.api_key_issue(client=client, actor=ACTOR)
                    apikeys.api_client_systems_add(client=client, systems=systems, actor=ACTOR)
                    what = f"Issued a new key to the existing API client {name!r}"
        except ApplicationError as exc:
            raise CommandError(exc.detail) from exc
        scope = ", ".join(s.slug for s in client.systems.order_by("slug"))
        self.stdout.write(f"{what}, for: {scope}.")
        self.stdout.write(
            "Store this key now: it is shown only once. Send it as 'Authorization: Bearer <key>'."
        )
        self.stdout.write(plaintext)
