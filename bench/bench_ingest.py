"""How fast batch ingestion records decisions with their notices, against PostgreSQL's COPY as a yardstick.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/contestable_perf .venv/bin/python bench/bench_ingest.py
    .venv/bin/python bench/bench_ingest.py --batches 2                  # SQLite, in memory (no COPY figure)

Like bench/bench_audit.py it never touches the configured database: it creates a throwaway one beside it
(``bench_<name>``, or in-memory SQLite), migrates it, measures, and drops it. ``--max-seconds`` bounds the
whole run (SIGALRM). Prints figures only; it asserts nothing about speed.

Two live systems are set up: a scorecard-less credit system built like the tests build one
(``tests.factories.live_system``; the integrator sends score, reasons and counterfactuals) and the demo's
``credit-limit`` system with its built-in scorecard (``decisions.demo``; the engine scores each item).
For each, ``--batches`` batches of ``--size`` decisions (about 60% adverse) go through
``decisions.services.decision_record_many`` as the API's batch endpoint calls it, each batch its own
transaction. Celery is switched to a non-eager in-memory broker, so "on-commit queueing" is the cost of
handing the notice ids to the broker, not of delivering them.

Per-phase times are exclusive (a phase's nested phases are not counted twice):
  validation          normalising and checking items, loading the catalogue (decisions.services)
  inserts             decisions, inputs, reasons, human steps, explanations (building the rows), with
    subjects            finding or creating the people (and their contact data)
    references          allocating public references
    rows written        the statements that write the rows (COPY on PostgreSQL: core.bulk), notices too
  audit               core.audit.record_many (decision.recorded and notice.created events)
  notice composition  what is left of composing (loading, access links, specs), with
    elements and explanation   decisions.notices.notice_elements (the explanation rendered in it)
    templates and checks       decisions.notices.render_notice (templates, completeness, coverage)
  notice inserts      the outbox rows (notifications.services.notice_create_many)
  on-commit queueing  queue_notice_delivery after commit (messages to the broker)
  audit seal          core.audit's on-commit seal (chaining the batch's events)
  other               the rest: transaction, commit, glue

The yardstick: the rows one run wrote to decisions, inputs, reasons and notices are read back and loaded
with psycopg's ``cursor.copy`` (COPY ... FROM STDIN, rows written from Python) into tables created
``LIKE ... INCLUDING ALL`` in a scratch schema (binary COPY, the column types read from the
catalogue). PostgreSQL only. The batches' rows include the warm-up's few.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# The bench measures handing notices to the broker, not delivering them in process.
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"

import django

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from config.celery import app as celery_app  # noqa: E402
from core.actors import Actor  # noqa: E402

celery_app.conf.task_always_eager = False

ACTOR = Actor(kind="api_client", id="1", label="bench scoring system")

# ------------------------------------------------------------------------------------------- phases


class Phases:
    """Exclusive wall and CPU time per phase, from wrappers put around the functions named in ``HOOKS``.

    Wall time is what a caller waits; CPU time is this process's own work (time.process_time). On a busy
    machine the two drift apart: wall time then includes waiting for a CPU, and for the database."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self._stack: list[list[float]] = []  # [wall start, cpu start, nested wall, nested cpu]

    def wrap(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            frame = [time.perf_counter(), time.process_time(), 0.0, 0.0]
            self._stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                self._stack.pop()
                wall = time.perf_counter() - frame[0]
                cpu = time.process_time() - frame[1]
                self.totals[phase] += wall - frame[2]
                self.cpu[phase] += cpu - frame[3]
                if self._stack:
                    self._stack[-1][2] += wall
                    self._stack[-1][3] += cpu

        return timed

    def reset(self) -> None:
        self.totals.clear()
        self.cpu.clear()


PHASES = Phases()

# (module, attribute, phase). Attributes a version of the code lacks are skipped. Indented phases are
# parts of the one above them (times are exclusive, so the parent shows what is left).
HOOKS = (
    ("decisions.services", "_process", "validation"),
    ("decisions.services", "_insert", "inserts"),
    ("decisions.services", "_subjects_for", "  subjects"),
    ("decisions.services", "_fresh_references", "  references"),
    ("core.bulk", "insert_rows", "  rows written (COPY)"),
    ("core.audit", "record_many", "audit"),
    ("decisions.services", "_compose_notices", "notice composition"),
    ("decisions.notices", "notice_elements", "  elements and explanation"),
    ("decisions.notices", "render_notice", "  templates and checks"),
    ("notifications.services", "notice_create_many", "notice inserts"),
    ("notifications.services", "queue_notice_delivery", "on-commit queueing"),
    ("core.audit", "_seal_after_commit", "audit seal"),
)
PHASE_ORDER = [phase for _module, _attr, phase in HOOKS]


def install_hooks() -> None:
    import importlib

    for module_name, attr, phase in HOOKS:
        module = importlib.import_module(module_name)
        fn = getattr(module, attr, None)
        if fn is not None:
            setattr(module, attr, PHASES.wrap(phase, fn))


# ------------------------------------------------------------------------------------------- systems


def plain_system() -> tuple[Any, Any, Callable[[int], dict[str, Any]]]:
    """A scorecard-less credit system (tests.factories): the integrator sends everything."""
    from tests.factories import decision_payload, live_system

    system, version = live_system(slug="bench-plain", name="Bench plain scoring")

    def item(i: int) -> dict[str, Any]:
        rng = random.Random(i)
        adverse = rng.random() < 0.6
        payload = decision_payload(system, version, adverse=adverse)
        payload["external_id"] = f"plain-{i:08d}"
        payload["subject"] = {
            "external_ref": f"plain-person-{i:08d}",
            "name": f"Person {i}",
            "email": f"person{i}@mail.example",
            "language": "es" if rng.random() < 0.25 else "en",
        }
        if not adverse:
            payload["score"] = "700"
        return payload

    return system, version, item


def scorecard_system() -> tuple[Any, Any, Callable[[int], dict[str, Any]]]:
    """The demo's credit-limit system with its built-in scorecard (decisions.demo)."""
    from decisions import demo
    from decisions.scorecards import Scorecard

    report = demo.SeedReport()
    system, version = demo.ensure_system(demo.CREDIT, report)
    card = Scorecard(version.scorecard)
    now = timezone.now()

    def item(i: int) -> dict[str, Any]:
        case = demo.demo_case(demo.CREDIT, card, i)
        payload = demo.decision_item(demo.CREDIT, version, case, now)
        payload["external_id"] = f"card-{i:08d}"
        payload["subject"] = {**case.subject, "external_ref": f"card-person-{i:08d}"}
        return payload

    return system, version, item


# ------------------------------------------------------------------------------------------- runs


def record(label: str, make_item: Callable[[int], dict[str, Any]], batches: int, size: int) -> float:
    from decisions.services import decision_record_many

    print(f"\n{label}: {batches} batch(es) of {size:,}", flush=True)
    PHASES.reset()
    total = 0.0
    total_cpu = 0.0
    created = 0
    offset = 0
    for b in range(batches):
        items = [make_item(offset + i) for i in range(size)]
        offset += size
        started, started_cpu = time.perf_counter(), time.process_time()
        results = decision_record_many(items=items, actor=ACTOR)
        elapsed = time.perf_counter() - started
        total += elapsed
        total_cpu += time.process_time() - started_cpu
        ok = sum(1 for r in results if r.created)
        created += ok
        refused = [r.error for r in results if r.error is not None]
        note = f"  ({len(refused)} refused: {refused[0]})" if refused else ""
        print(f"  batch {b + 1}: {elapsed:6.2f} s  {ok / elapsed:8,.0f} decisions/s{note}", flush=True)
    rate = created / total if total else 0.0
    print(f"  total: {created:,} decisions in {total:.2f} s = {rate:,.0f} decisions/s", flush=True)
    per_batch = batches or 1
    accounted = accounted_cpu = 0.0
    print(f"    {'per batch':<28} {'wall':>7}   {'cpu':>7}", flush=True)
    for phase in PHASE_ORDER:
        seconds, cpu = PHASES.totals.get(phase, 0.0), PHASES.cpu.get(phase, 0.0)
        accounted += seconds
        accounted_cpu += cpu
        print(f"    {phase:<28} {seconds / per_batch:7.3f} s {cpu / per_batch:7.3f} s", flush=True)
    other, other_cpu = (total - accounted) / per_batch, (total_cpu - accounted_cpu) / per_batch
    print(f"    {'other':<28} {other:7.3f} s {other_cpu:7.3f} s", flush=True)
    print(f"    {'total':<28} {total / per_batch:7.3f} s {total_cpu / per_batch:7.3f} s", flush=True)
    return total


# ------------------------------------------------------------------------------------------- COPY


COPY_TABLES = (
    "decisions_decision",
    "decisions_decisioninput",
    "decisions_decisionreason",
    "notifications_notice",
)


def copy_yardstick(ingest_seconds: float) -> None:
    """Load the rows the runs wrote into LIKE-copies of the tables with COPY, and time it."""
    if connection.vendor != "postgresql":
        print("\nCOPY yardstick: PostgreSQL only (skipped)", flush=True)
        return
    print("\nCOPY yardstick: the same rows into equivalent tables (scratch schema, LIKE ... INCLUDING ALL)")
    connection.ensure_connection()
    raw = connection.connection  # psycopg.Connection
    with raw.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS bench_copy CASCADE; CREATE SCHEMA bench_copy")
        data: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
        types: dict[str, list[int]] = {}
        for table in COPY_TABLES:
            cur.execute(f"CREATE TABLE bench_copy.{table} (LIKE public.{table} INCLUDING ALL)")
            cur.execute(f"SELECT * FROM public.{table}")  # noqa: S608 - fixed names
            columns = [d.name for d in cur.description or []]
            types[table] = [d.type_code for d in cur.description or []]
            data[table] = (columns, cur.fetchall())
    raw.commit()
    total_rows = 0
    started = time.perf_counter()
    with raw.cursor() as cur:
        for table, (columns, rows) in data.items():
            t0 = time.perf_counter()
            names = ", ".join(columns)
            # Binary COPY, the fastest way psycopg loads rows (the server parses no text).
            with cur.copy(f"COPY bench_copy.{table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types[table])
                for row in rows:
                    copy.write_row(row)
            total_rows += len(rows)
            print(f"  {table:<28} {len(rows):>8,} rows {time.perf_counter() - t0:7.3f} s", flush=True)
    raw.commit()
    elapsed = time.perf_counter() - started
    decisions = len(data["decisions_decision"][1])
    print(
        f"  COPY total: {total_rows:,} rows in {elapsed:.3f} s "
        f"= {decisions / elapsed if elapsed else 0:,.0f} decisions/s (with their inputs, reasons, notices)",
        flush=True,
    )
    if elapsed:
        print(f"  ingestion took {ingest_seconds / elapsed:.1f}x COPY's time for the same rows", flush=True)
    with raw.cursor() as cur:
        cur.execute("DROP SCHEMA bench_copy CASCADE")
    raw.commit()


# ------------------------------------------------------------------------------------------- main


@contextmanager
def throwaway_database() -> Iterator[None]:
    settings_dict = connection.settings_dict
    if connection.vendor != "sqlite":
        settings_dict["TEST"]["NAME"] = f"bench_{settings_dict['NAME']}"
    old_name = connection.creation.create_test_db(
        verbosity=0, autoclobber=True, keepdb=False, serialize=False
    )
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=3, help="batches per system")
    parser.add_argument("--size", type=int, default=1000, help="decisions per batch (at most 1,000)")
    parser.add_argument("--max-seconds", type=int, default=900)
    parser.add_argument("--profile", default="", help="write a cProfile of the runs to this file")
    args = parser.parse_args()

    def give_up(signum: int, frame: Any) -> None:
        raise TimeoutError(f"benchmark stopped after {args.max_seconds} s")

    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(args.max_seconds)
    try:
        with throwaway_database():
            print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})", flush=True)
            plain = plain_system()
            card = scorecard_system()
            install_hooks()
            # Warm up (imports, template loading, first connection costs) with one small batch each.
            from decisions.services import decision_record_many

            decision_record_many(items=[plain[2](10**7 + i) for i in range(5)], actor=ACTOR)
            decision_record_many(items=[card[2](10**7 + i) for i in range(5)], actor=ACTOR)
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile(time.process_time)  # CPU: the machine may be busy
                profiler.enable()
            timings = {
                "scorecard-less": record("scorecard-less system", plain[2], args.batches, args.size),
                "scorecard": record("scorecard system", card[2], args.batches, args.size),
            }
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
                print(f"\nprofile written to {args.profile}", flush=True)
            decisions = args.batches * args.size * 2
            total = sum(timings.values())
            print(
                f"\nall: {decisions:,} decisions in {total:.2f} s = {decisions / total:,.0f} decisions/s; "
                f"{total / (2 * args.batches):.2f} s per batch of {args.size:,}",
                flush=True,
            )
            copy_yardstick(total)
    finally:
        signal.alarm(0)


if __name__ == "__main__":
    main()
