"""A small cache-backed limiter for the portal's way in (the reference and code form).

Wrong codes are counted twice: against the reference that was typed (whether or not a decision has it, so
the answer never tells whether a reference exists) and against the client's address. After
``PORTAL_CODE_FAILURES`` wrong codes for one reference (default 5), or ``PORTAL_IP_FAILURES`` from one
address (default 20: several people may share an address), within ``PORTAL_LOCKOUT_MINUTES`` (default
15), that reference or address is locked out for ``PORTAL_LOCKOUT_MINUTES``: every try is refused, even
with the right code. When a lock ends, the count starts again from zero. A right code clears the count of
its reference (never of the address, so a person with one good code cannot reset an address's count).

Counting uses the cache's atomic ``add``/``incr`` (local memory in development, Redis in production with
``CACHE_URL``), so parallel requests cannot slip past the limit. Keys are HMACs of the reference and the
address: neither appears in the cache or in the log. A lock is stored with the time it ends, read against
``core.clock`` (so tests can move time on).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from core import clock

log = logging.getLogger(__name__)


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def lockout() -> timedelta:
    return timedelta(minutes=_setting("PORTAL_LOCKOUT_MINUTES", 15))


def _digest(scope: str, key: str) -> str:
    secret = hashlib.sha256(("contestable.portal.limiter:" + settings.SECRET_KEY).encode()).digest()
    return hmac.new(secret, f"{scope}\x00{key}".encode(), hashlib.sha256).hexdigest()[:40]


@dataclass(frozen=True)
class Limit:
    scope: str  # "reference" or "address"
    setting: str
    default: int

    @property
    def most(self) -> int:
        return _setting(self.setting, self.default)

    def _keys(self, key: str) -> tuple[str, str]:
        d = _digest(self.scope, key)
        return f"portal:fails:{self.scope}:{d}", f"portal:lock:{self.scope}:{d}"

    def locked_until(self, key: str) -> datetime | None:
        _count, lock = self._keys(key)
        until = cache.get(lock)
        if isinstance(until, (int, float)) and until > clock.now().timestamp():
            return datetime.fromtimestamp(until, tz=clock.now().tzinfo)
        return None

    def fail(self, key: str) -> bool:
        """Count one wrong try; answer True when this try locks ``key`` out."""
        count_key, lock = self._keys(key)
        window = int(lockout().total_seconds())
        cache.add(count_key, 0, timeout=window)
        try:
            count = cache.incr(count_key)
        except ValueError:  # the count expired between add and incr
            cache.add(count_key, 1, timeout=window)
            count = 1
        if count < self.most:
            return False
        until = clock.now() + lockout()
        cache.set(lock, until.timestamp(), timeout=window + 60)
        cache.delete(count_key)  # after the lock, a fresh count
        log.warning("portal way in locked: %s %s for %s minutes", self.scope, lock[-12:], window // 60)
        return True

    def clear(self, key: str) -> None:
        count_key, _lock = self._keys(key)
        cache.delete(count_key)


REFERENCE = Limit("reference", "PORTAL_CODE_FAILURES", 5)
ADDRESS = Limit("address", "PORTAL_IP_FAILURES", 20)


def client_address(request: HttpRequest) -> str:
    """The address the request came from. Behind a proxy, the proxy must put the client's address in
    REMOTE_ADDR (gunicorn's ``--forwarded-allow-ips``); a client-supplied header is never trusted here."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def locked(reference: str, address: str) -> bool:
    return REFERENCE.locked_until(reference) is not None or ADDRESS.locked_until(address) is not None


def record_failure(reference: str, address: str) -> bool:
    """Count a wrong code; answer True when the reference or the address is now locked out."""
    by_reference = REFERENCE.fail(reference)
    by_address = ADDRESS.fail(address)
    return by_reference or by_address


def record_success(reference: str) -> None:
    REFERENCE.clear(reference)
