"""Email backends for the delivery tests: a real Django backend that fails the way mail servers do."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.mail.message import EmailMessage


class FlakyBackend(LocmemBackend):
    """Like the locmem backend (messages land in ``mail.outbox``), but first raises each exception queued in
    ``FlakyBackend.failures``, one per send, and sleeps ``FlakyBackend.delay`` seconds before sending."""

    failures: ClassVar[list[BaseException]] = []
    delay: ClassVar[float] = 0.0
    calls: ClassVar[int] = 0
    _lock = threading.Lock()

    def __init__(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout = timeout

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        with self._lock:
            FlakyBackend.calls += 1
            failure = FlakyBackend.failures.pop(0) if FlakyBackend.failures else None
        if FlakyBackend.delay:
            time.sleep(FlakyBackend.delay)
        if failure is not None:
            raise failure
        with self._lock:
            return super().send_messages(messages)

    @classmethod
    def reset(cls) -> None:
        cls.failures = []
        cls.delay = 0.0
        cls.calls = 0
        mail.outbox = []
