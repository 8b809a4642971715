"""The person's way in to their decision (issue 3): a signed, expiring link and a reference plus secret code.

Both are made here, in ``decisions`` (floor 3), because the decision notice that carries them is composed
here; the portal (floor 6) only reads them.

Link. ``decision_link_token`` signs ``{"d": decision id, "v": days valid}`` with Django's TimestampSigner
(salt ``contestable.portal.decision-link``, the project's SECRET_KEY). The token carries its own validity,
so a system's appeal window decides how long its links work; tampering with either the id or the validity
breaks the signature. ``read_decision_token`` answers the decision id, or raises ``LinkInvalid`` /
``LinkExpired``.

Code. A decision's secret code is 8 characters of Crockford base32 (40 bits), shown in plain text only in
the notice; the record keeps ``access_code_hash = hash_access_code(reference, code)``, an HMAC-SHA256 keyed
with a key derived from SECRET_KEY and bound to the reference. HMAC rather than a slow password hash:
batches of 1,000 decisions must record in a few statements, and guessing is stopped by the portal's rate
limit, not by hashing cost. ``access_code_matches`` compares in constant time and does the same work
whether or not the decision exists, so a wrong code and an unknown reference cannot be told apart.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing

from core.ids import random_code

LINK_SALT = "contestable.portal.decision-link"
CODE_LENGTH = 8
_HASH_PREFIX = "hmac-sha256$"
# Typing aids: Crockford base32 reads I and L as 1, O as 0; spaces and dashes are ignored.
_TRANSLATE = str.maketrans({"I": "1", "L": "1", "O": "0", " ": None, "-": None})
_REF_TRANSLATE = str.maketrans("OIL", "011")


class LinkInvalid(Exception):
    pass


class LinkExpired(LinkInvalid):
    pass


def link_validity_days(system: Any) -> int:
    """A link works through the last day of the appeal window (plus one day for time zones)."""
    return int(system.appeal_window_days) + 1


def decision_link_token(decision_id: uuid.UUID | str, *, valid_days: int) -> str:
    signer = signing.TimestampSigner(salt=LINK_SALT)
    return signer.sign_object({"d": str(decision_id), "v": int(valid_days)}, compress=True)


def decision_link_url(decision_id: uuid.UUID | str, *, valid_days: int) -> str:
    return f"{settings.SITE_URL}/portal/open/{decision_link_token(decision_id, valid_days=valid_days)}"


def read_decision_token(token: str) -> uuid.UUID:
    """The decision id a link token names. Raises LinkExpired past its validity, LinkInvalid otherwise."""
    signer = signing.TimestampSigner(salt=LINK_SALT)
    try:
        payload = signer.unsign_object(token)
        days = int(payload["v"])
        signer.unsign_object(token, max_age=timedelta(days=days))
        return uuid.UUID(str(payload["d"]))
    except signing.SignatureExpired as exc:
        raise LinkExpired("this link has expired") from exc
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise LinkInvalid("this link is not valid") from exc


def new_access_code() -> str:
    return random_code(CODE_LENGTH)


def normalise_code(code: str) -> str:
    return (code or "").upper().translate(_TRANSLATE)


def normalise_reference(reference: str) -> str:
    """'crd-7k3m-q9xp ' -> 'CRD-7K3M-Q9XP'; after the prefix, O reads as 0 and I or L as 1."""
    ref = "".join((reference or "").split()).upper()
    prefix, dash, rest = ref.partition("-")
    return prefix + dash + rest.translate(_REF_TRANSLATE)


def _key() -> bytes:
    return hashlib.sha256(("contestable.access-code:" + settings.SECRET_KEY).encode()).digest()


def hash_access_code(reference: str, code: str) -> str:
    mac = hmac.new(_key(), f"{reference}\x00{normalise_code(code)}".encode(), hashlib.sha256).hexdigest()
    return _HASH_PREFIX + mac


def access_code_matches(stored_hash: str | None, reference: str, code: str) -> bool:
    """Constant-time; with ``stored_hash`` None (no such decision) it does the same work, then fails."""
    candidate = hash_access_code(reference, code)
    expected = stored_hash or (_HASH_PREFIX + "0" * 64)
    same = hmac.compare_digest(candidate.encode(), expected.encode())
    return same and stored_hash is not None
