"""Identifiers generated in Python, so batch ingestion needs no round trip for keys."""

from __future__ import annotations

import os
import secrets
import time
import uuid

# Crockford base32 without I, L, O, U: unambiguous when read aloud or typed from a letter.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): index-friendly primary keys."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def random_code(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def public_reference(prefix: str) -> str:
    """A reference a person can read over the phone, e.g. CRD-7K3M-Q9XP."""
    body = random_code(8)
    return f"{prefix}-{body[:4]}-{body[4:]}"


def pseudonym() -> str:
    return "subj_" + random_code(16).lower()
