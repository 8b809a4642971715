"""Every portal page carries the strict headers, loads nothing from elsewhere and runs no script; no
personal data or secret travels in an address or reaches the log."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from django.test import Client

from appeals.models import Appeal
from decisions.models import SubjectContact
from notifications.models import Notice
from tests.portal.conftest import APPEAL_ANSWERS, PDF, Case, link_path, page, sign_in, upload, walk

pytestmark = pytest.mark.django_db


def _every_page(client: Client, case: Case) -> list[tuple[str, Any]]:
    """Every page of a whole case, each fetched when it is reachable: (path, response)."""
    sign_in(client, case.decision)
    notice = Notice.objects.filter(topic_id=str(case.decision.pk), channel="portal").first()
    assert notice is not None
    seen = [(p, client.get(p)) for p in ("/portal/decision/", "/portal/appeal/")]
    for slug, data in APPEAL_ANSWERS:
        seen.append((f"/portal/appeal/{slug}/", client.get(f"/portal/appeal/{slug}/")))
        if slug == "documents":
            client.post(
                "/portal/appeal/documents/", {"documents": [upload("a.pdf", PDF)], "action": "continue"}
            )
        else:
            walk(client, "appeal", [(slug, data)])
    seen.append(("/portal/appeal/check/", client.get("/portal/appeal/check/")))
    client.post("/portal/appeal/check/")
    ref = Appeal.objects.get(decision=case.decision).reference
    later = [
        f"/portal/messages/{notice.pk}/",
        "/portal/case-file/",
        f"/portal/appeals/{ref}/",
        f"/portal/appeals/{ref}/sent/",
        f"/portal/appeals/{ref}/receipt/",
        f"/portal/appeals/{ref}/withdraw/",
        "/portal/explanation/question/",
        "/portal/dispute/which/",
    ]
    seen += [(p, client.get(p)) for p in later]
    seen.append(("/portal/", Client().get("/portal/")))
    return seen


def test_every_page_has_the_strict_headers_and_no_script_or_remote_asset(client: Client, case: Case) -> None:
    for path, response in _every_page(client, case):
        assert response.status_code == 200, path
        csp = response["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
        assert response["Cache-Control"] == "no-store"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "camera=()" in response["Permissions-Policy"]
        html = page(response)
        assert "<script" not in html.lower(), path
        assert "style=" not in html, path  # the CSP allows no inline style either
        assert not re.search(r'(src|href)="(https?:)?//(?!ombudsman\.example)', html), path


def test_no_address_holds_personal_data_or_a_secret(client: Client, case: Case) -> None:
    contact = SubjectContact.objects.get(subject=case.decision.subject)
    secrets = [contact.name, contact.email, case.decision.subject.external_ref, case.code]
    addresses = []
    for path, response in _every_page(client, case):
        addresses += [path, response.get("Location", "")]
        addresses += re.findall(r'(?:href|action)="([^"]*)"', page(response))
    for address in addresses:
        for secret in secrets:
            assert secret not in address, (secret, address)


def test_the_signed_link_token_never_reaches_the_log(client: Client, case: Case, caplog: Any) -> None:
    token = link_path(case.decision).rsplit("/", 1)[1]
    broken = token[:-3] + "xyz"
    with caplog.at_level(logging.DEBUG):
        assert client.get(f"/portal/open/{broken}").status_code == 400
        assert client.get(f"/portal/open/{token}").status_code == 302
    assert broken not in caplog.text and token not in caplog.text


def test_the_session_cookie_is_http_only_and_the_session_is_short(client: Client, case: Case) -> None:
    response = client.get(link_path(case.decision))
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert 0 < int(cookie["max-age"]) <= 30 * 60


def test_a_page_without_a_session_sends_the_person_to_the_way_in(client: Client, case: Case) -> None:
    for path in ("/portal/decision/", "/portal/appeal/reason/", "/portal/case-file/"):
        assert client.get(path)["Location"] == "/portal/"
    sign_in(client, case.decision)
    client.post("/portal/sign-out/")
    # After the session is gone, the page tells them they were signed out.
    assert client.get("/portal/decision/")["Location"] == "/portal/?signed-out=1"
    assert "We signed you out" in page(client.get("/portal/?signed-out=1"))


def test_odd_input_in_addresses_and_forms_never_gives_a_server_error(client: Client, case: Case) -> None:
    assert client.post("/portal/", {"reference": "CRD-\x00AB", "code": "AB\x00CD"}).status_code == 400
    sign_in(client, case.decision)
    for path in (
        "/portal/appeals/%00/",
        "/portal/appeals/APL-%00-X/sent/",
        "/portal/disputes/..%2F..%2Fetc/",
        "/portal/explanations/%E2%80%AE/",
        "/portal/decision/CRD-%00/",
        "/portal/dispute/value/%00/",
        "/portal/nothing/here/",
        "/portal/appeal/no-such-question/",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
    assert client.get("/portal/decision/?lang=xx").status_code == 200
