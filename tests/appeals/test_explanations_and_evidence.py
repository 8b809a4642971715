"""Explanation requests (S20: one month, extendable by two with a notice) and evidence files (stored
outside the web root, type sniffed from the bytes, at most 10 MB and 10 files)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from appeals import selectors, services
from appeals.models import EvidenceFile, ExplanationRequest
from appeals.services import EvidenceRejected
from core.errors import Conflict, PermissionDenied
from notifications.models import Notice
from tests.appeals.conftest import JPEG, PDF, PNG, World, events, notices_about

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------------------------- S20


def test_an_explanation_is_due_within_one_month(world: World, frozen: Any) -> None:
    frozen.set(datetime(2027, 1, 31, 12, 0, tzinfo=UTC))
    r = services.explanation_request_file(
        decision=world.decision(), question="Why was my income too low?", actor=world.person
    )
    assert r.reference.startswith("EXP-") and r.due_date.isoformat() == "2027-02-28"  # 31 Jan + 1 month
    assert events(r, "explanation_request.filed")[0].data["due_date"] == "2027-02-28"


def test_the_answer_carries_the_full_explanation_in_the_persons_language(world: World) -> None:
    d = world.decision(subject={"external_ref": "es-9", "email": "eva@mail.example", "language": "es"})
    r = services.explanation_request_file(decision=d, question="¿Por qué?", actor=world.person)
    with pytest.raises(PermissionDenied):
        services.explanation_request_answer(request=r, answer="x", actor=world.person)
    r = services.explanation_request_answer(
        request=r, answer="Sus ingresos estaban por debajo del límite.", actor=world.alice
    )
    assert r.status == ExplanationRequest.Status.ANSWERED
    (email,) = [n for n in notices_about(r, Notice.Kind.EXPLANATION_RESPONSE) if n.channel == "email"]
    assert email.language == "es" and "Nuestra respuesta a su pregunta" in email.subject
    assert "Sus ingresos estaban por debajo del límite." in email.body_text
    assert "Sus ingresos son bajos para este límite de crédito." in email.body_text  # the reasons, rendered
    assert events(r, "explanation_request.answered")[0].data["late"] is False


def test_an_extension_by_two_months_is_told_to_the_person_once_and_in_time(world: World, frozen: Any) -> None:
    frozen.set(datetime(2027, 1, 10, 12, 0, tzinfo=UTC))
    r = services.explanation_request_file(decision=world.decision(), question="Why?", actor=world.person)
    r = services.explanation_request_extend(
        request=r, reason="We must ask the credit bureau.", actor=world.alice
    )
    assert r.due_date.isoformat() == "2027-04-10" and r.original_due_date.isoformat() == "2027-02-10"
    (email,) = [n for n in notices_about(r, Notice.Kind.DELAY) if n.channel == "email"]
    assert "We must ask the credit bureau." in email.body_text and "10 April 2027" in email.body_text
    with pytest.raises(Conflict):
        services.explanation_request_extend(request=r, reason="More time", actor=world.alice)
    late = services.explanation_request_file(decision=world.decision(), question="Why?", actor=world.person)
    frozen.set(datetime(2027, 2, 12, 12, 0, tzinfo=UTC))
    with pytest.raises(Conflict) as exc:
        services.explanation_request_extend(request=late, reason="More time", actor=world.alice)
    assert exc.value.code == "too-late-to-extend"


# ------------------------------------------------------------------------------------- evidence


def test_evidence_is_stored_outside_the_web_root_readable_only_by_the_service(world: World) -> None:
    a = world.appeal(evidence=[("../../etc/passwd.pdf", PDF), ("photo.jpg", JPEG), ("scan.png", PNG)])
    files = list(EvidenceFile.objects.filter(appeal=a))
    assert [f.content_type for f in files] == ["application/pdf", "image/jpeg", "image/png"]
    assert files[0].original_name == "passwd.pdf"
    root = Path(settings.MEDIA_ROOT).resolve()
    for f in files:
        path = selectors.evidence_path(f)
        assert root in path.parents and path.read_bytes()[:4] in (PDF[:4], JPEG[:4], PNG[:4])
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert f.size == path.stat().st_size


def test_the_type_comes_from_the_bytes_not_the_name(world: World) -> None:
    with pytest.raises(EvidenceRejected) as exc:
        world.appeal(evidence=[("invoice.pdf", b"MZ\x90\x00 this is a program")])
    assert exc.value.errors[0]["code"] == "unsupported-type"
    with pytest.raises(EvidenceRejected) as exc:
        world.appeal(evidence=[("empty.pdf", b"")])
    assert exc.value.errors[0]["code"] == "empty-file"
    assert not EvidenceFile.objects.exists()


def test_files_over_the_size_limit_are_refused(world: World, settings: Any) -> None:
    settings.APPEALS_EVIDENCE_MAX_BYTES = 1024
    upload = SimpleUploadedFile("big.pdf", PDF + b"0" * 2048, content_type="application/pdf")
    with pytest.raises(EvidenceRejected) as exc:
        world.appeal(evidence=[upload])
    assert exc.value.errors[0]["code"] == "file-too-large"
    ok = SimpleUploadedFile("small.pdf", PDF, content_type="text/plain")  # the declared type is ignored
    a = world.appeal(evidence=[ok])
    assert a.evidence.get().content_type == "application/pdf"


def test_the_default_limit_is_ten_megabytes(world: World) -> None:
    assert services.evidence_max_bytes() == 10 * 1024 * 1024
    big = PDF + b"0" * (10 * 1024 * 1024)
    with pytest.raises(EvidenceRejected):
        world.appeal(evidence=[("big.pdf", big)])


def test_at_most_ten_files_per_appeal(world: World) -> None:
    a = world.appeal(evidence=[(f"f{i}.pdf", PDF) for i in range(8)])
    with pytest.raises(EvidenceRejected) as exc:
        services.evidence_add(
            appeal=a, files=[("x.pdf", PDF), ("y.pdf", PDF), ("z.pdf", PDF)], actor=world.person
        )
    assert exc.value.errors[0]["code"] == "too-many-files"
    services.evidence_add(appeal=a, files=[("x.pdf", PDF), ("y.pdf", PDF)], actor=world.person)
    assert a.evidence.count() == 10
    (added,) = events(a, "appeal.evidence_added")
    assert [e["content_type"] for e in added.data["evidence"]] == ["application/pdf"] * 2
    assert "x.pdf" not in str(added.data)  # file names are the person's words: not in the audit log


def test_only_reviewers_of_the_queue_open_evidence(world: World) -> None:
    from tests.factories import reviewer

    a = world.appeal(evidence=[("a.pdf", PDF)])
    with pytest.raises(PermissionDenied):
        services.evidence_open(appeal=a, reviewer=reviewer())
    services.evidence_open(appeal=a, reviewer=world.bob, evidence=a.evidence.get())
    assert events(a, "appeal.evidence_opened")[0].actor_id == str(world.bob.pk)


def test_staff_see_disputes_and_explanation_requests_that_ran_past_their_clock(
    world: World, frozen: Any
) -> None:
    frozen.set(datetime(2027, 1, 10, 12, 0, tzinfo=UTC))
    d = world.decision()
    r = services.explanation_request_file(decision=d, question="Why?", actor=world.person)
    dsp = services.dispute_file(
        decision=d, feature="annual_income", what_is_wrong="Old job.", actor=world.person
    )
    assert not selectors.overdue_explanation_requests() and not selectors.overdue_disputes()
    later = datetime(2027, 2, 12, 12, 0, tzinfo=UTC)  # past one month and past 30 days
    assert list(selectors.overdue_explanation_requests(at=later)) == [r]
    assert list(selectors.overdue_disputes(at=later)) == [dsp]
    services.explanation_request_answer(request=r, answer="Your income was low.", actor=world.alice)
    assert not selectors.overdue_explanation_requests(at=later)
