"""The person's way in: the signed link and the reference plus code, and the minimal decision page."""

from __future__ import annotations

import re
import time
from typing import Any
from unittest import mock

import pytest
from django.test import Client

from core.actors import SYSTEM
from decisions import access
from decisions.models import Decision
from decisions.notices import decision_notices_compose
from notifications.models import Notice
from portal.views import SESSION_KEY
from tests.decisions.builders import make_decision, make_system

pytestmark = pytest.mark.django_db

START = "/portal/"
DECISION = "/portal/decision/"


def _token(decision: Decision) -> str:
    return access.decision_link_token(decision.pk, valid_days=access.link_validity_days(decision.system))


def _without_csrf(html: bytes) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html.decode())


def test_the_signed_link_opens_a_short_session_and_moves_to_a_clean_address(client: Client) -> None:
    decision, _ = make_decision()
    response = client.get(f"/portal/open/{_token(decision)}")
    assert response.status_code == 302
    assert response["Location"] == DECISION  # no token left in the address bar or history
    assert response["Referrer-Policy"] == "no-referrer"
    assert client.session[SESSION_KEY] == str(decision.pk)
    assert client.session.get_expiry_age() <= 30 * 60
    page = client.get(DECISION)
    assert page.status_code == 200
    assert "Credit limit refused" in page.content.decode()


def test_an_expired_link_is_refused(client: Client) -> None:
    decision, _ = make_decision()
    system = decision.system
    signed_long_ago = time.time() - (access.link_validity_days(system) + 1) * 86400
    with mock.patch("django.core.signing.time.time", return_value=signed_long_ago):
        token = _token(decision)
    response = client.get(f"/portal/open/{token}")
    assert response.status_code == 410
    assert "This link has expired" in response.content.decode()
    assert SESSION_KEY not in client.session
    # Still valid one day before its end.
    with mock.patch("django.core.signing.time.time", return_value=signed_long_ago + 2 * 86400):
        fresh = _token(decision)
    assert client.get(f"/portal/open/{fresh}").status_code == 302


@pytest.mark.parametrize("tamper", ["id", "validity", "signature", "truncate"])
def test_a_tampered_link_is_refused(client: Client, tamper: str) -> None:
    decision, _ = make_decision()
    other, _ = make_decision()
    token = _token(decision)
    forged = {
        # A genuine signature on other content does not carry over, whatever is changed.
        "id": token.replace(
            token.split(":")[0], access.decision_link_token(other.pk, valid_days=999).split(":")[0]
        ),
        "validity": access.decision_link_token(decision.pk, valid_days=99999).split(":")[0]
        + ":"
        + ":".join(token.split(":")[1:]),
        "signature": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "truncate": token[: len(token) // 2],
    }[tamper]
    assert forged != token
    response = client.get(f"/portal/open/{forged}")
    assert response.status_code == 400
    assert SESSION_KEY not in client.session
    assert client.get(DECISION).status_code == 302


def test_a_link_signed_with_another_salt_is_refused() -> None:
    from django.core import signing

    decision, _ = make_decision()
    token = signing.TimestampSigner(salt="something-else").sign_object({"d": str(decision.pk), "v": 10})
    with pytest.raises(access.LinkInvalid):
        access.read_decision_token(token)


def test_the_reference_and_code_open_the_decision(client: Client) -> None:
    decision, code = make_decision()
    typed_loosely = decision.public_reference.lower().replace("-", "- ")
    response = client.post(START, {"reference": typed_loosely, "code": code.lower()})
    assert response.status_code == 302
    assert response["Location"] == DECISION
    assert client.session[SESSION_KEY] == str(decision.pk)


def test_a_wrong_code_gets_the_same_answer_as_an_unknown_reference(client: Client) -> None:
    decision, code = make_decision()
    wrong = "0000000" + ("1" if code[-1] != "1" else "2")
    with mock.patch("decisions.access.access_code_matches", wraps=access.access_code_matches) as spy:
        wrong_code = client.post(START, {"reference": decision.public_reference, "code": wrong})
        # Same length, same shape as a real reference, but nobody has it.
        unknown = client.post(START, {"reference": decision.public_reference[:-1] + "Z", "code": wrong})
    assert spy.call_count >= 2  # the code is checked (in constant time) whether or not the reference exists
    assert wrong_code.status_code == unknown.status_code == 400
    a = _without_csrf(wrong_code.content).replace(decision.public_reference, "REF")
    b = _without_csrf(unknown.content).replace(decision.public_reference[:-1] + "Z", "REF")
    assert a == b
    assert "We could not find a decision with that reference and code." in a
    assert wrong not in a  # the secret is never echoed back
    assert SESSION_KEY not in client.session


def test_missing_fields_are_named_and_the_reference_is_kept(client: Client) -> None:
    response = client.post(START, {"reference": "CRD-1234-5678", "code": ""})
    page = response.content.decode()
    assert response.status_code == 400
    assert "There is a problem" in page
    assert '<a href="#code">Enter your code</a>' in page
    assert 'value="CRD-1234-5678"' in page


def test_the_decision_page_needs_a_session(client: Client) -> None:
    response = client.get(DECISION)
    assert response.status_code == 302
    assert response["Location"] == START


def test_the_decision_page_shows_the_explanation_deadline_and_inbox(client: Client) -> None:
    decision, code = make_decision()
    decision_notices_compose(decisions=[decision], access_codes={decision.pk: code}, actor=SYSTEM)
    client.get(f"/portal/open/{_token(decision)}")
    page = client.get(DECISION)
    html = page.content.decode()
    for expected in (
        "Credit limit refused",
        "You missed some payments in the last 12 months.",
        "Monthly income",
        "Your application",
        "1 March 2027",
        "Payments made on time: 95 % instead of 82 %",
        "You can appeal until 4 September 2027",
        "Right 9 times out of 10 in tests.",
        "Your credit application: our decision",  # the portal notice, in the inbox
    ):
        assert expected in html, expected
    portal_notice = Notice.objects.get(topic_id=str(decision.pk), channel="portal")
    assert portal_notice.subject in html


def test_the_language_switcher_shows_the_page_in_spanish(client: Client) -> None:
    decision, _ = make_decision(language="en")
    client.get(f"/portal/open/{_token(decision)}")
    html = client.get(DECISION, {"lang": "es"}).content.decode()
    assert '<html lang="es">' in html
    assert "Límite de crédito denegado" in html
    assert "Puede apelar hasta el 4 de septiembre de 2027" in html
    # The choice sticks for the session.
    assert "Límite de crédito denegado" in client.get(DECISION).content.decode()


def test_the_page_starts_in_the_persons_language(client: Client) -> None:
    decision, _ = make_decision(language="es")
    client.get(f"/portal/open/{_token(decision)}")
    assert "Límite de crédito denegado" in client.get(DECISION).content.decode()


def test_portal_pages_carry_a_strict_content_security_policy(client: Client) -> None:
    decision, _ = make_decision()
    responses: list[Any] = [
        client.get(START),
        client.get(f"/portal/open/{_token(decision)}"),
        client.get(DECISION),
    ]
    for r in responses:
        csp = r["Content-Security-Policy"]
        assert "default-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "script-src" not in csp  # no scripts at all (default-src 'none')
        assert r["Cache-Control"] == "no-store"


def test_the_form_pages_let_the_browser_send_its_origin_so_csrf_checks_pass(client: Client) -> None:
    # With "no-referrer" a browser posts the form with "Origin: null" and Django refuses it (403).
    assert client.get(START)["Referrer-Policy"] == "same-origin"
    strict = Client(enforce_csrf_checks=True)
    page = strict.get(START)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)  # type: ignore[union-attr]
    decision, code = make_decision()
    response = strict.post(
        START,
        {"reference": decision.public_reference, "code": code, "csrfmiddlewaretoken": token},
        HTTP_ORIGIN="http://testserver",
    )
    assert response.status_code == 302


def test_a_person_sees_only_the_decision_they_proved(client: Client) -> None:
    system = make_system("credit")
    mine, _ = make_decision(system)
    theirs, _ = make_decision(system)
    client.get(f"/portal/open/{_token(mine)}")
    html = client.get(DECISION).content.decode()
    assert mine.public_reference in html
    assert theirs.public_reference not in html


def test_signing_out_ends_the_session(client: Client) -> None:
    decision, _ = make_decision()
    client.get(f"/portal/open/{_token(decision)}")
    client.post("/portal/sign-out/")
    assert client.get(DECISION).status_code == 302
