"""Django's ``check`` command, extended: ``--tag safeguards`` switches on the safeguards checks
(``oversight.checks``), which otherwise stay silent so that ``runserver``, ``migrate`` and a plain ``check``
never query the database or render templates for them."""

from __future__ import annotations

from typing import Any

from django.core.management.commands.check import Command as DjangoCheckCommand

from oversight import checks


class Command(DjangoCheckCommand):
    help = (
        DjangoCheckCommand.help
        + " With --tag safeguards: every live system against the safeguards catalogue."
    )

    def handle(self, *app_labels: Any, **options: Any) -> None:
        if checks.TAG in (options.get("tags") or []):
            with checks.requested():
                return super().handle(*app_labels, **options)
        return super().handle(*app_labels, **options)
