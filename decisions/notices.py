"""Composition of decision notices (filled in by the notices work, issue 3).

decisions.services calls ``decision_notices_compose`` inside the recording transaction, so a notice
(outbox row) is written in the same transaction as the decision it tells about.
"""

from __future__ import annotations

from typing import Any


def decision_notices_compose(*, decisions: list[Any], actor: Any) -> None:
    return None
