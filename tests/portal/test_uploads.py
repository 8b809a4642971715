"""Evidence on the documents page: PDF, JPEG and PNG only (by content, never by name), at most 10 files of
10 MB, every refusal named on the page while everything else stays; files held outside the web root for
this session only, removable, and never read whole into memory."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.test import Client, RequestFactory

from portal import uploads
from tests.portal.conftest import (
    APPEAL_ANSWERS,
    JPEG,
    PDF,
    PNG,
    STATEMENT,
    Case,
    errors_of,
    page,
    sign_in,
    upload,
    walk,
)

pytestmark = pytest.mark.django_db

DOCS = "/portal/appeal/documents/"


@pytest.fixture
def person(client: Client, case: Case) -> Client:
    sign_in(client, case.decision)
    walk(client, "appeal", APPEAL_ANSWERS[:2])
    return client


def _held(client: Client) -> list[dict[str, Any]]:
    journeys = client.session["portal_journeys"]
    return list(journeys[next(k for k in journeys if k.startswith("appeal:"))]["files"])


def _files_on_disk() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / uploads.HELD_DIR
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_pdf_jpeg_and_png_are_held_in_a_private_folder_outside_the_web_root(person: Client) -> None:
    files = [upload("payslip.pdf", PDF), upload("photo.jpg", JPEG), upload("scan.png", PNG)]
    response = person.post(DOCS, {"documents": files, "action": "upload"})
    assert response.status_code == 302 and response["Location"].startswith(DOCS)
    held = _held(person)
    assert [(f["name"], f["type"]) for f in held] == [
        ("payslip.pdf", "application/pdf"),
        ("photo.jpg", "image/jpeg"),
        ("scan.png", "image/png"),
    ]
    on_disk = _files_on_disk()
    assert len(on_disk) == 3
    for path in on_disk:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert Path(settings.MEDIA_ROOT) in path.parents
        assert Path(settings.STATIC_ROOT) not in path.parents
        assert path.name not in {"payslip.pdf", "photo.jpg", "scan.png"}  # random names, not the person's
    html = page(person.get(DOCS))
    assert "payslip.pdf" in html and "Documents you added (3)" in html


def test_a_file_whose_content_is_not_pdf_jpeg_or_png_is_refused_whatever_its_name(person: Client) -> None:
    fake = upload("payslip.pdf", b"MZ\x90\x00 this is really a program", "application/pdf")
    response = person.post(DOCS, {"documents": [fake, upload("real.pdf", PDF)], "action": "upload"})
    assert response.status_code == 400
    assert errors_of(response) == [
        "“payslip.pdf” is not a PDF, JPG or PNG. We checked what is inside the file, not its name. "
        "Save it as one of those types and try again."
    ]
    # The good file in the same batch is kept, and so is everything typed before.
    assert [f["name"] for f in _held(person)] == ["real.pdf"]
    assert STATEMENT in page(person.get("/portal/appeal/reason/"))


def test_a_file_over_the_size_limit_is_refused_and_only_the_limit_is_kept_while_reading(
    person: Client, settings: Any
) -> None:
    settings.APPEALS_EVIDENCE_MAX_BYTES = 2048
    big = upload("big.pdf", PDF + b"0" * 4096)
    exact = upload("exact.png", PNG + b"\x00" * (2048 - len(PNG)))
    response = person.post(DOCS, {"documents": [big, exact], "action": "continue"})
    assert errors_of(response) == ["“big.pdf” is bigger than 2 KB. Make it smaller, or split it into parts."]
    assert [f["name"] for f in _held(person)] == ["exact.png"]  # exactly at the limit is fine


def test_the_eleventh_file_is_refused_and_the_first_ten_are_kept(person: Client) -> None:
    person.post(DOCS, {"documents": [upload(f"doc{i}.pdf", PDF) for i in range(8)], "action": "upload"})
    response = person.post(
        DOCS, {"documents": [upload(f"more{i}.png", PNG) for i in range(3)], "action": "upload"}
    )
    assert errors_of(response) == ["You can add up to 10 documents. “more2.png” was not added."]
    assert len(_held(person)) == 10
    html = page(person.get(DOCS))
    assert "That is the most you can add" in html
    assert 'type="file"' not in html  # no file field while full


def test_an_empty_file_is_refused(person: Client) -> None:
    response = person.post(DOCS, {"documents": [upload("empty.pdf", b"")], "action": "upload"})
    assert errors_of(response) == ["“empty.pdf” is empty. Choose another file."]


def test_a_document_can_be_removed_before_sending_and_is_deleted(person: Client) -> None:
    person.post(DOCS, {"documents": [upload("a.pdf", PDF), upload("b.png", PNG)], "action": "upload"})
    first = _held(person)[0]
    response = person.post(DOCS, {"remove": first["id"]})
    assert response.status_code == 302
    assert [f["name"] for f in _held(person)] == ["b.png"]
    assert len(_files_on_disk()) == 1


def test_removing_with_a_made_up_id_touches_nothing(person: Client) -> None:
    person.post(DOCS, {"documents": [upload("a.pdf", PDF)], "action": "upload"})
    person.post(DOCS, {"remove": "../../etc/passwd"})
    assert len(_held(person)) == 1 and len(_files_on_disk()) == 1


def test_files_chosen_then_continue_are_added_and_the_journey_moves_on(person: Client) -> None:
    response = person.post(DOCS, {"documents": [upload("a.pdf", PDF)], "action": "continue"})
    assert response["Location"] == "/portal/appeal/someone-else/"
    assert len(_held(person)) == 1


def test_one_session_cannot_see_or_remove_anothers_held_files(client: Client, case: Case) -> None:
    sign_in(client, case.decision)
    client.post(DOCS, {"documents": [upload("mine.pdf", PDF)], "action": "upload"})
    mine = _held(client)[0]
    other = Client()
    sign_in(other, case.decision)  # the same decision, another browser
    other.post(DOCS, {"remove": mine["id"]})
    assert len(_files_on_disk()) == 1
    assert "mine.pdf" not in page(other.get(DOCS))


def test_signing_out_deletes_the_held_files(person: Client) -> None:
    person.post(DOCS, {"documents": [upload("a.pdf", PDF)], "action": "upload"})
    person.post("/portal/sign-out/")
    assert _files_on_disk() == []


def test_the_upload_page_checks_csrf_itself(case: Case) -> None:
    strict = Client(enforce_csrf_checks=True)
    sign_in(strict, case.decision)
    response = strict.post(DOCS, {"documents": [upload("a.pdf", PDF)], "action": "upload"})
    assert response.status_code == 403
    assert _files_on_disk() == []


def test_stale_held_folders_are_swept(person: Client) -> None:
    person.post(DOCS, {"documents": [upload("a.pdf", PDF)], "action": "upload"})
    assert uploads.purge_stale(hours=24) == 0
    old = time.time() - 25 * 3600
    for path in [*_files_on_disk(), _files_on_disk()[0].parent]:
        os.utime(path, (old, old))
    assert uploads.purge_stale(hours=24) == 1
    assert _files_on_disk() == []


def test_the_capped_handler_keeps_at_most_the_limit_and_counts_the_real_size(settings: Any) -> None:
    settings.APPEALS_EVIDENCE_MAX_BYTES = 100
    request = RequestFactory().post("/")
    handler = uploads.CappedUploadHandler(request)
    handler.new_file("file", "big.pdf", "application/pdf", 10_000)
    for start in range(0, 10_000, 1000):
        handler.receive_data_chunk(b"x" * 1000, start)
    result = handler.file_complete(10_000)
    assert isinstance(result, TemporaryUploadedFile)
    assert result.size == 10_000
    assert len(result.read()) == 101


def test_the_purge_command_and_task_sweep_old_held_folders(person: Client) -> None:
    from io import StringIO

    from django.core.management import call_command

    from portal.tasks import purge_uploads

    person.post(DOCS, {"documents": [upload("a.pdf", PDF)], "action": "upload"})
    assert purge_uploads() == 0
    out = StringIO()
    call_command("portal_purge_uploads", "--hours", "0", stdout=out)
    assert "Removed 1 held upload folder(s)." in out.getvalue()
    assert _files_on_disk() == []
