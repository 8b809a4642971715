"""What happens when an appeal's outcome is recorded: handlers registered explicitly by higher floors.

``appeals`` is floor 4 and may not import ``oversight`` (floor 5). Where oversight must react to an outcome
(S29: evaluate the stop switch of the system after every outcome) it registers a handler in its
``AppConfig.ready()``::

    from appeals.hooks import register_outcome_handler
    register_outcome_handler(stop_switch_after_outcome)

Handlers run, in registration order, inside the transaction that records the outcome (``review_decide``, or
``review_confirm_second`` where four eyes apply), once the outcome is carried through: either both happen or
neither does. A handler must not send anything itself; it queues follow-up work with
``transaction.on_commit``. No Django signals: the registration is explicit and visible here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from appeals.models import Appeal

OutcomeHandler = Callable[["Appeal"], None]

_handlers: list[OutcomeHandler] = []


def register_outcome_handler(handler: OutcomeHandler) -> None:
    """Run ``handler(appeal)`` whenever an appeal's outcome is recorded. Registering twice is a no-op."""
    if handler not in _handlers:
        _handlers.append(handler)


def unregister_outcome_handler(handler: OutcomeHandler) -> None:
    """For tests that register a temporary handler."""
    if handler in _handlers:
        _handlers.remove(handler)


def outcome_handlers() -> list[OutcomeHandler]:
    return list(_handlers)


def outcome_recorded(appeal: Appeal) -> None:
    """Called by the services, inside the transaction, after an outcome is carried through."""
    for handler in outcome_handlers():
        handler(appeal)
