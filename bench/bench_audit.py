"""How fast the audit log appends, seals and verifies (S28), on whatever DATABASE_URL points at.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/contestable .venv/bin/python bench/bench_audit.py
    .venv/bin/python bench/bench_audit.py --events 20000          # SQLite, in memory

Audit events cannot be deleted (on PostgreSQL a trigger refuses it), so the benchmark never touches the
configured database: it creates a throwaway one beside it (``bench_<name>``, or in-memory SQLite),
migrates it, measures, and drops it. A hard time limit (``--max-seconds``) bounds the run.

Figures printed, in events per second:
  record_many   batch ingestion, one INSERT per 2,000 rows, committed (sealing switched off to time it alone)
  seal          chaining everything pending (hash in Python, one UPDATE per 5,000 events)
  verify        walking the whole chain with a streaming cursor, recomputing every hash
  record+seal   one event per transaction, each followed by its on-commit seal (a service call's cost)
With --compare, also seal with Django's bulk_update (CASE WHEN) instead, on a smaller batch.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

settings.DEBUG = False  # as in production: no query log, no SQL formatting for it

from django.db import connection, transaction  # noqa: E402

from core import audit  # noqa: E402
from core.actors import Actor  # noqa: E402
from core.models import AuditEvent  # noqa: E402

ACTOR = Actor(kind="api_client", id="1", label="bench scoring system")


def _events(n: int, offset: int = 0) -> Iterator[audit.PendingEvent]:
    for i in range(offset, offset + n):
        yield audit.PendingEvent(
            ACTOR,
            "decision.recorded",
            target_type="decisions.decision",
            target_id=f"0190a1b2-{i:012d}",
            data={
                "system": "credit-limit",
                "version": "2026.1",
                "outcome": "declined",
                "adverse": True,
                "subject": f"subj_{i:016d}",
                "reasons": ["R01", "R07"],
                "score": 512 + i % 300,
            },
        )


def _timed(label: str, n: int, fn: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - started
    rate = n / elapsed if elapsed else float("inf")
    print(f"{label:<20} {n:>9,} events {elapsed:>8.2f} s {rate:>12,.0f} events/s", flush=True)
    return result


def _record_many_committed(n: int) -> int:
    with mock.patch.object(audit, "_seal_after_commit", lambda: None), transaction.atomic():
        return audit.record_many(_events(n))


def _bulk_update_writer(seals: list[tuple[int, int, str, str]]) -> int:
    rows = [AuditEvent(id=pk, seq=seq, prev_hash=prev, hash=digest) for pk, seq, prev, digest in seals]
    return AuditEvent.objects.bulk_update(rows, ["seq", "prev_hash", "hash"], batch_size=len(rows))


def run(events: int, singles: int, compare: int) -> None:
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})", flush=True)
    _timed("record_many", events, lambda: _record_many_committed(events))
    sealed = _timed("seal", events, audit.seal)
    assert sealed == events, sealed
    result = _timed("verify", events, lambda: audit.verify(chunk_size=5000))
    assert result.ok and result.events_checked == events, result

    def singles_with_seal() -> None:
        for i in range(singles):
            with transaction.atomic():
                audit.record(
                    actor=ACTOR, action="appeal.filed", target_type="appeals.appeal", target_id=str(i)
                )

    _timed("record+seal", singles, singles_with_seal)
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()

    if compare:
        _record_many_committed(compare)
        with mock.patch.object(audit, "_write_seals", _bulk_update_writer):
            _timed("seal (bulk_update)", compare, lambda: audit.seal(batch_size=5000))
        _record_many_committed(compare)
        _timed("seal (ours)", compare, lambda: audit.seal(batch_size=5000))
        assert audit.verify().ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--singles", type=int, default=1_000, help="events written one per transaction")
    parser.add_argument("--compare", type=int, default=0, help="also time Django's bulk_update on this many")
    parser.add_argument("--max-seconds", type=int, default=600)
    args = parser.parse_args()

    def give_up(signum: int, frame: Any) -> None:
        raise TimeoutError(f"benchmark stopped after {args.max_seconds} s")

    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(args.max_seconds)
    settings_dict = connection.settings_dict
    if connection.vendor != "sqlite":
        settings_dict["TEST"]["NAME"] = f"bench_{settings_dict['NAME']}"
    old_name = connection.creation.create_test_db(
        verbosity=0, autoclobber=True, keepdb=False, serialize=False
    )
    try:
        run(args.events, args.singles, args.compare)
    finally:
        signal.alarm(0)
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)


if __name__ == "__main__":
    main()
