"""The whole demo house: ``seed_demo`` with the steps that appeals and oversight register with it
(``decisions.demo.register_demo_step``), as a newcomer who runs ``make run`` gets it.

Seeding is slow enough that the house is built once for this module (twice, to prove the second run adds
nothing), inside a transaction rolled back at the end; the tests read what was found then.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import transaction
from django.db.models import Count
from django.test.utils import override_settings

from appeals import demo as appeals_demo
from appeals import services as appeals_services
from appeals.models import (
    Appeal,
    DataDispute,
    EvidenceFile,
    ExplanationRequest,
    Queue,
    QueueMembership,
    Review,
    ReviewerTraining,
)
from core import clock
from core.models import AuditEvent, User
from decisions import demo
from decisions.access import access_code_matches
from decisions.models import Decision, DecisionSystem
from decisions.notices import appeal_deadline
from oversight.models import FigureRollup, GroupAttribute

# The house is built by the module fixture; the mark makes pytest-django set up the test database for it.
pytestmark = pytest.mark.django_db

SCALE = "0.1"
SLUGS = ("credit-limit", "benefit-eligibility", "content-moderation")


class _Rollback(Exception):
    pass


def counts() -> dict[str, Any]:
    def rows(qs: Any, *fields: str) -> list[Any]:
        return sorted(qs.values_list(*fields))

    return {
        "appeals": Counter(Appeal.objects.values_list("decision__system__slug", "status", "outcome")),
        "reviews": rows(Review.objects.all(), "appeal__reference", "reviewer__username", "stage", "outcome"),
        "queues": rows(Queue.objects.all(), "system__slug", "team", "name"),
        "members": rows(QueueMembership.objects.all(), "queue__system__slug", "user__username", "role"),
        "training": rows(ReviewerTraining.objects.all(), "user__username", "system__slug"),
        "evidence": EvidenceFile.objects.count(),
        "disputes": rows(DataDispute.objects.all(), "reference", "feature", "status"),
        "explanations": rows(ExplanationRequest.objects.all(), "reference", "status"),
        "group_attributes": GroupAttribute.objects.count(),
        "decisions": rows(Decision.objects.all(), "external_id", "status"),
        "audit": dict(
            AuditEvent.objects.values_list("action").annotate(n=Count("id")).values_list("action", "n")
        ),
    }


@dataclass
class House:
    first_out: str
    second_out: str
    first: dict[str, Any]
    second: dict[str, Any]
    safeguards_problem: str  # empty when `check --tag safeguards` passed
    claimed: tuple[str, str, str] | None  # (reference, status, claimant) of the reviewer's "Next case"
    claim_audited: bool
    figures: dict[str, int]  # slug -> figure rollups
    way_ins: list[tuple[str, str, bool, bool, bool]]  # reference, code, code matches, appealable, untouched
    evidence_types: Counter[str]
    held_by_reviewer_before_claim: int
    integrators: dict[str, tuple[bool, list[str]]]  # slug -> (all recorded by its demo client, webhook urls)


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--scale", SCALE, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture(scope="module")
def house(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[House]:
    var = tmp_path_factory.mktemp("demo-var")
    found: list[House] = []
    with (
        django_db_blocker.unblock(),
        override_settings(
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
            MEDIA_ROOT=var / "private",
            VAR_DIR=var,
        ),
    ):
        try:
            with transaction.atomic():
                first_out = _seed()
                first = counts()
                second_out = _seed()
                second = counts()
                try:
                    call_command("check", "--tag", "safeguards", stdout=StringIO(), stderr=StringIO())
                    problem = ""
                except SystemCheckError as exc:
                    problem = str(exc)
                found.append(_look_around(first_out, second_out, first, second, problem))
                raise _Rollback
        except _Rollback:
            pass
    yield found[0]


def _look_around(first_out: str, second_out: str, first: Any, second: Any, problem: str) -> House:
    reviewer = User.objects.get(username="reviewer")
    held = Appeal.objects.filter(claimed_by=reviewer).count()
    way_ins = []
    for ref, code in re.findall(r"type the reference (\S+) and the code (\S+),", second_out):
        d = Decision.objects.select_related("system").get(public_reference=ref)
        appealable = d.adverse and d.status in (Decision.Status.PENDING_NOTICE, Decision.Status.EFFECTIVE)
        in_window = not clock.is_past(appeal_deadline(d), d.system.time_zone)
        untouched = not (d.appeals.exists() or d.disputes.exists())
        way_ins.append(
            (
                ref,
                code,
                access_code_matches(d.access_code_hash, ref, code),
                appealable and in_window,
                untouched,
            )
        )
    claimed = appeals_services.review_claim_next(reviewer=reviewer)
    claim = None
    audited = False
    if claimed is not None:
        claim = (
            claimed.reference,
            claimed.status,
            claimed.claimed_by.get_username() if claimed.claimed_by else "",
        )
        audited = AuditEvent.objects.filter(action="appeal.claimed", target_id=str(claimed.pk)).exists()
    figures = {
        slug: FigureRollup.objects.filter(system__slug=slug).count()
        for slug in DecisionSystem.objects.values_list("slug", flat=True)
    }
    from notifications.models import WebhookEndpoint

    integrators = {}
    for system in DecisionSystem.objects.all():
        client = system.api_clients.get()
        integrators[system.slug] = (
            # Corrections made here (overturns, re-scores) supersede; the integrator recorded the rest.
            not system.decisions.filter(supersedes__isnull=True).exclude(recorded_by=client).exists(),
            [e.url for e in WebhookEndpoint.objects.filter(client=client)],
        )
    return House(
        integrators=integrators,
        first_out=first_out,
        second_out=second_out,
        first=first,
        second=second,
        safeguards_problem=problem,
        claimed=claim,
        claim_audited=audited,
        figures=figures,
        way_ins=way_ins,
        evidence_types=Counter(EvidenceFile.objects.values_list("content_type", flat=True)),
        held_by_reviewer_before_claim=held,
    )


# ---------------------------------------------------------------------------------------- the house


def test_a_second_run_adds_nothing(house: House) -> None:
    assert house.first == house.second
    assert "0 new stories" in house.second_out
    assert "0 new synthetic" in house.second_out


def test_every_step_a_newcomer_needs_is_seeded_in_one_command(house: House) -> None:
    appeals = house.first["appeals"]
    states: Counter[str] = Counter()
    for (_slug, status, outcome), n in appeals.items():
        states[status] += n
        if outcome:
            states[f"{status}:{outcome}"] += n
    assert (
        20
        <= sum(
            states[s]
            for s in (
                "submitted",
                "queued",
                "in_review",
                "awaiting_appellant",
                "awaiting_second_review",
                "decided",
                "closed",
                "withdrawn",
            )
        )
        <= 60
    )
    for state in ("submitted", "queued", "in_review", "awaiting_appellant", "awaiting_second_review"):
        assert states[state] >= 1, state
    for outcome in ("upheld", "overturned", "modified"):
        assert states[f"decided:{outcome}"] >= 1, outcome
    assert {slug for slug, *_ in appeals} == set(SLUGS)
    assert house.first["disputes"] and house.first["explanations"]
    assert {status for *_, status in house.first["explanations"]} == {"open", "answered"}
    assert house.evidence_types["application/pdf"] >= 1 and house.evidence_types["image/png"] >= 1
    # Every appeal step went through the services, so each wrote its audit event.
    audit = house.first["audit"]
    assert audit["appeal.filed"] == sum(appeals.values())
    assert audit["appeal.decided"] >= 3 and audit["appeal.second_review_confirmed"] >= 1
    assert audit["appeal.blind_assessment_recorded"] >= 1
    assert audit["queue.created"] == 3


def test_each_demo_integrator_records_its_decisions_and_hears_back_at_the_demo_receiver(house: House) -> None:
    assert set(house.integrators) == {"credit-limit", "benefit-eligibility", "content-moderation"}
    for recorded_by_client, urls in house.integrators.values():
        assert recorded_by_client
        [url] = urls  # one endpoint, made once although the demo was seeded twice
        assert "/staff/outbox/demo-integrator/" in url


def test_each_system_has_a_queue_with_the_demo_reviewer_and_senior(house: House) -> None:
    assert [slug for slug, *_ in house.first["queues"]] == sorted(SLUGS)
    members = set(house.first["members"])
    for slug in SLUGS:
        assert (slug, "reviewer", "member") in members
        assert (slug, "senior", "supervisor") in members
    # Training is recorded where the impact level needs it (S2): the level III benefits system.
    assert sorted(house.first["training"]) == [
        ("reviewer", "benefit-eligibility"),
        ("senior", "benefit-eligibility"),
    ]


def test_the_safeguards_check_passes_on_the_demo(house: House) -> None:
    assert house.safeguards_problem == ""


def test_the_demo_reviewer_can_claim_a_queued_appeal_with_next_case(house: House) -> None:
    assert house.held_by_reviewer_before_claim == 0
    assert house.claimed is not None
    _reference, status, claimant = house.claimed
    assert (status, claimant) == ("in_review", "reviewer")
    assert house.claim_audited


def test_the_figures_exist_for_each_system(house: House) -> None:
    assert set(house.figures) == set(SLUGS)
    assert all(n > 0 for n in house.figures.values()), house.figures
    assert house.first["group_attributes"] > 0


def test_the_try_this_list_gives_a_way_in_that_opens_an_appealable_decision(house: House) -> None:
    assert "Try this:" in house.first_out and "Try this:" in house.second_out
    assert len(house.way_ins) == 2  # a person who reads English, and one who reads Spanish
    for ref, _code, matches, appealable, untouched in house.way_ins:
        assert matches, ref  # the printed code is the one in the person's notice
        assert appealable and untouched, ref  # free for the newcomer's first appeal, in its window
    for line in ("/review/", "Next case", "/oversight/", "demo_stop_switch", "transparency_report"):
        assert line in house.second_out, line


def test_the_demo_prints_no_access_code_it_did_not_read_from_a_notice(house: House) -> None:
    # The codes are kept only hashed; the one place they can be read is the notice as sent.
    for ref, code, *_ in house.way_ins:
        assert ref in house.second_out and code in house.second_out


# ---------------------------------------------------------------------------------------- the files


def test_the_demo_pdf_is_a_valid_pdf_whose_cross_reference_table_points_at_its_objects() -> None:
    pdf = appeals_demo.pdf_document("A title (demo)", ["one line", "another (with brackets)"])
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    startxref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert pdf[startxref:].startswith(b"xref\n0 6\n")
    entries = pdf[startxref:].split(b"\n")[3:8]
    for number, entry in enumerate(entries, start=1):
        offset = int(entry.split()[0])
        assert pdf[offset:].startswith(b"%d 0 obj" % number)
    assert appeals_services.sniff(pdf) == ("application/pdf", ".pdf")


def test_the_demo_png_is_a_valid_png_with_the_size_it_says() -> None:
    png = appeals_demo.png_image("seed", width=40, height=30)
    assert appeals_services.sniff(png) == ("image/png", ".png")
    pos, chunks = 8, {}
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        tag, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(tag + data) & 0xFFFFFFFF
        chunks[tag] = data
        pos += 12 + length
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    assert (width, height) == (40, 30)
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + 3 * width)
    assert appeals_demo.png_image("seed", width=40, height=30) == png  # fixed seed, same picture


# ---------------------------------------------------------------------------------------- the registry


def test_registered_steps_run_in_order_and_registering_again_replaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(demo, "_STEPS", {})
    demo.register_demo_step("late", lambda scale: None, order=90)
    demo.register_demo_step("early", lambda scale: None, order=10)
    demo.register_demo_step("late", lambda scale: demo.StepReport(lines=["again"]), order=20)
    steps = demo.demo_steps()
    assert [s.name for s in steps] == ["early", "late"]
    result = steps[1].fn(1.0)
    assert result is not None and result.lines == ["again"]


def test_the_installed_apps_register_appeals_before_oversight() -> None:
    names = [s.name for s in demo.demo_steps()]
    assert names.index("appeals") < names.index("oversight")


def test_the_portal_examples_are_fixed_by_the_draws_alone() -> None:
    first = demo.portal_example_ids()
    assert set(first) == {"en", "es"}
    assert demo.portal_example_ids() == first
    assert all(ext.startswith("credit-limit-") for ext in first.values())
