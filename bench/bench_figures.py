"""How fast the oversight figures refresh and the oversight pages answer, on whatever DATABASE_URL points at.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/contestable .venv/bin/python bench/bench_figures.py
    .venv/bin/python bench/bench_figures.py --decisions 20000          # SQLite, in memory

Like bench_audit.py it never touches the configured database: it creates a throwaway one beside it
(``bench_<name>``, or in-memory SQLite), migrates it, fills it, measures, and drops it. A hard time limit
(``--max-seconds``) bounds the run.

The data: ``--decisions`` synthetic decisions (default 200,000) over the last ``--days`` days across three
systems of two versions each, bulk-inserted (one INSERT per few thousand rows), each with a decision notice
(most delivered on time); about a tenth of the adverse ones appealed, most of those decided; four in five
subjects with a group attribute.

Figures printed, in seconds:
  insert              writing the synthetic data (not what is measured, shown for scale)
  full build          figures_refresh(): every day, week and month of every system, from nothing
  recent refresh      the periodic task: the last two days and the weeks and months around them
  settle refresh      the hourly task: every period a notice clock still reaches
  overview page       GET /oversight/ (rollups only), with its query count
  system page         GET /oversight/systems/<slug>/ (rollups, plus the fairness aggregates)
  transparency report a month's report computed from the base tables
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

settings.DEBUG = False  # as in production: no query log

from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from appeals.models import Appeal  # noqa: E402
from core import clock  # noqa: E402
from core.models import User  # noqa: E402
from decisions.models import Decision, DecisionSystem, Outcome, Subject, SystemVersion  # noqa: E402
from notifications.models import Notice  # noqa: E402
from oversight import reports, services  # noqa: E402
from oversight.models import FigureRollup, GroupAttribute  # noqa: E402
from oversight.periods import Period  # noqa: E402

BATCH = 5000
SLUGS = ("bench-credit", "bench-benefits", "bench-content")


def _timed(label: str, fn: Callable[[], Any], extra: str = "") -> Any:
    started = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - started
    print(f"{label:<22} {elapsed:>9.3f} s  {extra}", flush=True)
    return result


def _systems() -> list[tuple[DecisionSystem, list[SystemVersion], dict[tuple[int, bool], Outcome]]]:
    out = []
    for slug in SLUGS:
        system = DecisionSystem.objects.create(
            slug=slug,
            name=slug.replace("-", " ").title(),
            owner_organisation="Bench",
            review_contact_name="Bench",
            review_contact_email="bench@example.org",
            purpose="Benchmark",
            legal_basis="None",
            domain="credit",
            impact_level=2,
            status="live",
            notice_due_days=30,
        )
        versions = [SystemVersion.objects.create(system=system, version=v) for v in ("1", "2")]
        outcomes = {
            (v.pk, adverse): Outcome.objects.create(version=v, code=code, adverse=adverse, label={})
            for v in versions
            for code, adverse in (("declined", True), ("approved", False))
        }
        out.append((system, versions, outcomes))
    return out


def fill(n: int, days: int, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    now = clock.now()
    systems = _systems()
    counts = {"decisions": 0, "notices": 0, "appeals": 0, "group_attributes": 0}
    for start in range(0, n, BATCH):
        size = min(BATCH, n - start)
        subjects, decisions, notices, appeals, groups = [], [], [], [], []
        for i in range(start, start + size):
            system, versions, outcomes = systems[i % len(systems)]
            version = versions[0] if rng.random() < 0.6 else versions[1]
            adverse = rng.random() < 0.35
            recorded = now - timedelta(seconds=rng.randrange(days * 86400))
            subject = Subject(system=system, external_ref=f"b{i}", pseudonym=f"subj_bench{i:011d}")
            subjects.append(subject)
            automation = rng.choices(["full", "partial", "none"], [0.8, 0.15, 0.05])[0]
            d = Decision(
                system=system,
                version=version,
                external_id=f"b{i}",
                public_reference=f"BEN-{i:08d}",
                subject=subject,
                outcome=outcomes[(version.pk, adverse)],
                adverse=adverse,
                automation=automation,
                automated_detection=automation == "full",
                automated_decision=automation == "full",
                inputs_snapshot={},
                inputs_hash="0" * 64,
                payload_hash="0" * 64,
                status="effective",
                decided_at=recorded,
                recorded_at=recorded,
            )
            decisions.append(d)
            due = recorded + timedelta(days=30)
            delivered = recorded + timedelta(
                minutes=rng.randrange(1, 60 * 24 * (40 if rng.random() < 0.05 else 2))
            )
            notices.append(
                Notice(
                    kind="decision",
                    topic_type="decisions.decision",
                    topic_id=str(d.pk),
                    recipient=subject.pseudonym,
                    channel="portal",
                    subject="Your decision",
                    body_text="-",
                    template_key="credit/decision",
                    template_version="1",
                    due_at=due,
                    created_at=recorded,
                    status="delivered" if delivered < now else "pending",
                    delivered_at=delivered if delivered < now else None,
                    dedupe_key=f"bench:{i}",
                )
            )
            if adverse and rng.random() < 0.1:
                filed = recorded + timedelta(hours=rng.randrange(1, 24 * 20))
                decided = filed + timedelta(hours=rng.randrange(1, 24 * 45))
                open_ = decided > now or rng.random() < 0.1
                if filed < now:
                    appeals.append(
                        Appeal(
                            reference=f"BAP-{i:08d}",
                            decision=d,
                            status="queued" if open_ else "decided",
                            channel="portal",
                            statement="-",
                            filed_at=filed,
                            appeal_deadline=filed.date(),
                            original_due_date=filed.date() + timedelta(days=30),
                            due_date=filed.date() + timedelta(days=30),
                            outcome=""
                            if open_
                            else rng.choices(["upheld", "overturned", "modified"], [6, 3, 1])[0],
                            decided_at=None if open_ else decided,
                            created_at=filed,
                        )
                    )
            if rng.random() < 0.8:
                groups.append(
                    GroupAttribute(
                        subject_pseudonym=subject.pseudonym,
                        attribute="age_band",
                        value=rng.choice(["18-34", "35-64", "65+"]),
                        source="bench",
                        lawful_basis="bench",
                        recorded_at=now,
                    )
                )
        Subject.objects.bulk_create(subjects, batch_size=BATCH)
        Decision.objects.bulk_create(decisions, batch_size=BATCH)
        Notice.objects.bulk_create(notices, batch_size=BATCH)
        Appeal.objects.bulk_create(appeals, batch_size=BATCH)
        GroupAttribute.objects.bulk_create(groups, batch_size=BATCH)
        counts["decisions"] += len(decisions)
        counts["notices"] += len(notices)
        counts["appeals"] += len(appeals)
        counts["group_attributes"] += len(groups)
        reset_queries()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return counts


def _page(client: Client, url: str) -> str:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return f"{len(ctx.captured_queries)} queries, {len(response.content) // 1024} KiB"


def run(n: int, days: int) -> None:
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})", flush=True)
    counts = _timed("insert", lambda: fill(n, days))
    print(f"{'':<22} {counts}", flush=True)
    _timed("full build", lambda: services.figures_refresh().rows)
    print(f"{'':<22} {FigureRollup.objects.count():,} rollup rows", flush=True)
    _timed("recent refresh", services.figures_refresh_recent)
    _timed("settle refresh", services.figures_settle, f"{services.settle_days()} days")
    user = User.objects.create_superuser("bench", "bench@example.org", "bench-pass-1234")
    client = Client()
    client.force_login(user)
    _page(client, "/oversight/")  # warm
    extra = _page(client, "/oversight/")
    _timed("overview page", lambda: _page(client, "/oversight/"), extra)
    url = f"/oversight/systems/{SLUGS[0]}/?kind=week"
    extra = _page(client, url)
    _timed("system page (weeks)", lambda: _page(client, url), extra)
    url = f"/oversight/systems/{SLUGS[0]}/?kind=month"
    _timed("system page (months)", lambda: _page(client, url), _page(client, url))
    month = Period.containing(clock.now(), "month").previous()
    _timed(
        "transparency report",
        lambda: reports.transparency_report(period=month, systems=DecisionSystem.objects.all()),
        month.label,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=365, help="spread the decisions over this many days")
    parser.add_argument("--max-seconds", type=int, default=1200)
    args = parser.parse_args()

    def give_up(signum: int, frame: Any) -> None:
        raise TimeoutError(f"benchmark stopped after {args.max_seconds} s")

    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(args.max_seconds)
    settings_dict = connection.settings_dict
    if connection.vendor != "sqlite":
        settings_dict["TEST"]["NAME"] = f"bench_figures_{settings_dict['NAME']}"
    old_name = connection.creation.create_test_db(
        verbosity=0, autoclobber=True, keepdb=False, serialize=False
    )
    try:
        run(args.decisions, args.days)
    finally:
        signal.alarm(0)
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)


if __name__ == "__main__":
    main()
