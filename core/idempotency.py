"""Idempotency-Key handling (placeholder: the core-api work fills this in)."""


def prune_expired() -> int:
    return 0
