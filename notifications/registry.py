"""What happens when a notice is delivered: handlers registered explicitly by the apps above.

``notifications`` is floor 2 and may not import ``decisions`` or ``appeals``. Where those apps must react to
a delivery (S11: an adverse decision takes effect only once its notice is delivered) they register a handler
in their ``AppConfig.ready()``::

    from notifications.registry import register_delivered_handler
    register_delivered_handler("decision", decisions.services.decision_notice_delivered)

On a successful delivery the handlers for the notice's kind run, in registration order, inside the same
transaction that marks the notice delivered: either both happen or neither does. A handler must be
idempotent (it runs again if a later attempt has to finish a delivery whose handler failed) and must not
send anything itself (queue follow-up work with ``transaction.on_commit``).

A chunk of notices delivered together (``notifications.services.notice_deliver_many``) is marked delivered
in one transaction, and a handler registered with ``many=`` gets the chunk's notices of its kind in one
call, in delivery order: ``many(notices)`` must do what calling ``handler`` on each notice in turn would
do, in a few statements. Without ``many`` the handler is called once per notice. If anything fails, the
chunk's deliveries are finished one by one instead (each with ``handler``), so one failing notice goes
back to pending alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notifications.models import Notice

DeliveredHandler = Callable[["Notice"], None]
DeliveredManyHandler = Callable[[list["Notice"]], None]

_delivered: dict[str, list[DeliveredHandler]] = {}
_many: dict[DeliveredHandler, DeliveredManyHandler] = {}


def register_delivered_handler(
    kind: str, handler: DeliveredHandler, *, many: DeliveredManyHandler | None = None
) -> None:
    """Run ``handler(notice)`` whenever a notice of ``kind`` is delivered (``many(notices)`` for a chunk,
    when given). Registering twice is a no-op."""
    from notifications.models import Notice

    if kind not in Notice.Kind.values:
        raise ValueError(f"unknown notice kind {kind!r}; expected one of {sorted(Notice.Kind.values)}")
    handlers = _delivered.setdefault(kind, [])
    if handler not in handlers:
        handlers.append(handler)
    if many is not None:
        _many[handler] = many


def unregister_delivered_handler(kind: str, handler: DeliveredHandler) -> None:
    """For tests that register a temporary handler."""
    handlers = _delivered.get(kind, [])
    if handler in handlers:
        handlers.remove(handler)


def delivered_handlers(kind: str) -> list[DeliveredHandler]:
    return list(_delivered.get(kind, []))


def run_delivered_handlers(kind: str, notices: list[Notice]) -> None:
    """Run the handlers of ``kind`` for a chunk of delivered notices of that kind, in registration order:
    each handler's ``many`` variant once, or the handler once per notice."""
    for handler in delivered_handlers(kind):
        many = _many.get(handler)
        if many is not None:
            many(notices)
        else:
            for notice in notices:
                handler(notice)
