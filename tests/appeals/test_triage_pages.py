"""Triage of late appeals (S17) by a person: the "late appeals" list on my queues, the triage form on the
case page and the API step, with the service's refusals shown as an error summary or a problem."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from appeals.models import Appeal
from appeals.workflow import State
from core.api.errors import PROBLEM_CONTENT_TYPE
from core.models import User
from tests.appeals.conftest import World, events
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HOME = "/review/"
_keys = itertools.count(1)


def _client(user: User) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def auditor() -> User:
    user = UserFactory.create()
    user.groups.add(Group.objects.get_or_create(name="auditor")[0])
    return user


def late_appeal(world: World, frozen: Any, days: int = 3, good_cause: str = "I was in hospital.") -> Appeal:
    d = world.decision()
    frozen.set(d.decided_at + timedelta(days=world.system.appeal_window_days + days))
    a = world.appeal(d, good_cause=good_cause)
    assert a.late is True and a.status == State.SUBMITTED
    return a


def triage_url(a: Appeal) -> str:
    return f"/review/appeals/{a.pk}/triage/"


def api_url(a: Appeal) -> str:
    return f"/api/v1/review/appeals/{a.pk}/triage/"


def api_post(user: User, a: Appeal, data: dict[str, Any]) -> Any:
    return _client(user).post(
        api_url(a), data, content_type="application/json", headers={"Idempotency-Key": f"t-{next(_keys)}"}
    )


# ------------------------------------------------------------------------------------------ the list


def test_my_queues_lists_a_late_appeal_with_how_late_and_the_persons_reasons(
    world: World, frozen: Any
) -> None:
    in_time = world.appeal()
    a = late_appeal(world, frozen, days=3)

    text = _text(_client(world.senior).get(HOME))

    assert "Late appeals waiting for triage" in text
    listed = text.split("Late appeals waiting for triage")[1].split("</table>")[0]
    assert a.reference in listed and in_time.reference not in listed
    assert f'href="/review/appeals/{a.pk}/#triage-form"' in listed
    assert world.system.name in listed
    assert "I was in hospital." in listed
    assert "3 days after" in listed


def test_a_triaged_appeal_leaves_the_late_list(world: World, frozen: Any) -> None:
    a = late_appeal(world, frozen)
    _client(world.senior).post(triage_url(a), {"accept": "yes", "reasons": "Good cause shown."})

    text = _text(_client(world.senior).get(HOME))

    assert "No late appeal is waiting for triage." in text


def test_an_auditor_sees_no_triage_list_and_no_triage_form(world: World, frozen: Any) -> None:
    a = late_appeal(world, frozen)
    client = _client(auditor())

    assert "Late appeals waiting for triage" not in _text(client.get(HOME))
    assert 'id="triage-form"' not in _text(client.get(f"/review/appeals/{a.pk}/"))


# ------------------------------------------------------------------------------------------ the page


def test_the_case_page_of_a_late_appeal_offers_the_triage_form(world: World, frozen: Any) -> None:
    a = late_appeal(world, frozen)

    text = _text(_client(world.senior).get(f"/review/appeals/{a.pk}/"))

    assert f'action="{triage_url(a)}" id="triage-form"' in text
    assert "I was in hospital." in text


def test_accepting_a_late_appeal_from_the_page_queues_it_and_is_audited(world: World, frozen: Any) -> None:
    a = late_appeal(world, frozen)

    response = _client(world.senior).post(
        triage_url(a), {"accept": "yes", "reasons": "Hospital stay shown; good cause."}
    )

    assert response.status_code == 303 and response["Location"] == f"/review/appeals/{a.pk}/"
    a.refresh_from_db()
    assert a.status == State.QUEUED and a.triaged_by == world.senior
    assert a.triage_reasons == "Hospital stay shown; good cause."
    (event,) = events(a, "appeal.accepted")
    assert event.data["why"] == "good cause" and event.actor_id == str(world.senior.pk)
    page = _text(_client(world.senior).get(f"/review/appeals/{a.pk}/"))
    assert 'id="triage-form"' not in page


def test_refusing_a_late_appeal_from_the_page_records_the_reasons(world: World, frozen: Any) -> None:
    a = late_appeal(world, frozen, days=40, good_cause="")

    response = _client(world.alice).post(
        triage_url(a), {"accept": "no", "reasons": "No reason for the delay was given."}
    )

    assert response.status_code == 303
    a.refresh_from_db()
    assert a.status == State.REFUSED and a.triage_reasons == "No reason for the delay was given."
    (event,) = events(a, "appeal.refused")
    assert event.data["why"] == "late without good cause" and event.data["to"] == State.REFUSED


def test_triage_without_reasons_shows_the_error_summary_and_keeps_the_choice(
    world: World, frozen: Any
) -> None:
    a = late_appeal(world, frozen)

    response = _client(world.senior).post(triage_url(a), {"accept": "no", "reasons": "   "})

    assert response.status_code == 422
    text = _text(response)
    assert 'class="error-summary"' in text
    assert 'href="#triage-reasons">Give the reasons; the person will read them.' in text
    assert re.search(r'<input type="radio" name="accept" value="no"[^>]*checked', text)
    a.refresh_from_db()
    assert a.status == State.SUBMITTED and a.triaged_at is None
    assert not events(a, "appeal.refused")


def test_triage_without_a_choice_is_a_form_error(world: World, frozen: Any) -> None:
    a = late_appeal(world, frozen)

    response = _client(world.senior).post(triage_url(a), {"reasons": "Typed and kept."})

    assert response.status_code == 400
    text = _text(response)
    assert 'class="error-summary"' in text and 'href="#triage-accept"' in text
    assert "Typed and kept." in text
    a.refresh_from_db()
    assert a.status == State.SUBMITTED


def test_an_auditor_may_not_triage_from_the_page(world: World, frozen: Any) -> None:
    a = late_appeal(world, frozen)

    response = _client(auditor()).post(triage_url(a), {"accept": "yes", "reasons": "Good cause."})

    assert response.status_code == 403
    a.refresh_from_db()
    assert a.status == State.SUBMITTED and not events(a, "appeal.accepted")


def test_an_appeal_in_time_cannot_be_triaged(world: World) -> None:
    a = world.appeal()

    response = _client(world.senior).post(triage_url(a), {"accept": "yes", "reasons": "Good cause."})

    assert response.status_code == 409
    assert "needs no triage" in _text(response)


# ------------------------------------------------------------------------------------------ the API


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:400]
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def test_the_api_accepts_a_late_appeal_for_good_cause(world: World, frozen: Any) -> None:
    a = late_appeal(world, frozen)

    response = api_post(world.senior, a, {"accept": True, "reasons": "Good cause shown."})

    assert response.status_code == 200, response.content[:400]
    body = response.json()
    assert body["reference"] == a.reference and body["status"] == State.QUEUED
    assert body["triage_reasons"] == "Good cause shown."
    assert events(a, "appeal.accepted")


def test_the_api_refuses_a_late_appeal_with_reasons(world: World, frozen: Any) -> None:
    a = late_appeal(world, frozen)

    response = api_post(world.alice, a, {"accept": False, "reasons": "No good cause."})

    assert response.status_code == 200, response.content[:400]
    a.refresh_from_db()
    assert a.status == State.REFUSED and a.triage_reasons == "No good cause."
    assert events(a, "appeal.refused")


def test_the_api_wants_reasons(world: World, frozen: Any) -> None:
    a = late_appeal(world, frozen)

    body = _problem(api_post(world.senior, a, {"accept": True, "reasons": ""}), 422, "validation-failed")

    assert [e["field"] for e in body["errors"]] == ["reasons"]
    a.refresh_from_db()
    assert a.status == State.SUBMITTED and not events(a, "appeal.accepted")


def test_the_api_refuses_an_auditor(world: World, frozen: Any) -> None:
    a = late_appeal(world, frozen)

    response = api_post(auditor(), a, {"accept": True, "reasons": "Good cause."})

    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    a.refresh_from_db()
    assert a.status == State.SUBMITTED
