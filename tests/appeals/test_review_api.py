"""The appeals and review API: integrator-assisted filing scoped to the integrator's systems, reading,
withdrawing, evidence uploads, disputes and explanation requests, and every reviewer step for headless tools,
with problem details for each refusal."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from appeals import services
from appeals.models import Appeal, AppealMessage, DataDispute, EvidenceFile, ExplanationRequest
from appeals.workflow import State
from core import apikeys
from core.api.errors import PROBLEM_CONTENT_TYPE
from core.models import User
from decisions.models import Decision
from tests.appeals.conftest import (
    PDF,
    PNG,
    RATIONALE,
    STATEMENT,
    World,
    events,
    make_world,
    notices_about,
    webhooks,
)
from tests.factories import ApiClientFactory, UserFactory

pytestmark = pytest.mark.django_db

_keys = itertools.count(1)


class Api:
    """A client that sends JSON (or multipart) with a fresh Idempotency-Key, as an API key or a session."""

    def __init__(self, *, key: str = "", user: User | None = None) -> None:
        self.client = Client()
        self.headers: dict[str, str] = {"Authorization": f"Bearer {key}"} if key else {}
        if user is not None:
            self.client.force_login(user)

    def post(self, path: str, data: Any = None, *, key: str | None = None, multipart: bool = False) -> Any:
        headers = {**self.headers, "Idempotency-Key": key or f"k-{next(_keys)}"}
        if multipart:
            return self.client.post(path, data or {}, headers=headers)
        return self.client.post(path, data or {}, content_type="application/json", headers=headers)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(path, params or {}, headers=self.headers)


def integrator(w: World) -> Api:
    _key, plaintext = apikeys.api_key_issue(client=w.client, actor=w.senior)
    return Api(key=plaintext)


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:400]
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status and body["type"] == f"/problems/{code}"
    return body


def review(path: str, a: Appeal) -> str:
    return f"/api/v1/review/appeals/{a.pk}/{path}/"


# ------------------------------------------------------------------------------------------ filing


def test_an_integrator_files_an_appeal_on_its_systems_decision_once_per_idempotency_key(world: World) -> None:
    d = world.decision()
    api = integrator(world)
    body = {"decision": str(d.pk), "statement": STATEMENT, "requested_remedy": "Approve the credit."}

    first = api.post("/api/v1/appeals/", body, key="file-1")
    again = api.post("/api/v1/appeals/", body, key="file-1")

    assert first.status_code == 201, first.content
    data = first.json()
    assert data["status"] == "queued" and data["channel"] == "api" and data["decision"]["id"] == str(d.pk)
    assert data["statement"] == STATEMENT and data["stay"] == "applied" and data["evidence"] == []
    assert data["links"]["self"].endswith(f"/api/v1/appeals/{data['id']}/")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true" and again.json() == data
    a = Appeal.objects.get()
    [filed] = events(a, "appeal.filed")
    assert filed.actor_type == "api_client" and filed.actor_id == str(world.client.pk)
    assert notices_about(a, "appeal_received")


def test_an_api_key_must_send_an_idempotency_key(world: World) -> None:
    api = integrator(world)
    d = world.decision()

    response = api.client.post(
        "/api/v1/appeals/",
        {"decision": str(d.pk), "statement": STATEMENT},
        content_type="application/json",
        headers=api.headers,
    )

    problem(response, 400, "idempotency-key-missing")
    assert not Appeal.objects.exists()


def test_another_systems_decision_is_not_found_for_an_integrator(world: World) -> None:
    other = make_world()
    foreign = other.decision()
    theirs = other.appeal()
    api = integrator(world)

    problem(
        api.post("/api/v1/appeals/", {"decision": str(foreign.pk), "statement": STATEMENT}), 404, "not-found"
    )
    problem(api.get(f"/api/v1/appeals/{theirs.pk}/"), 404, "not-found")
    problem(api.post(f"/api/v1/appeals/{theirs.pk}/withdraw/", {}), 404, "not-found")
    assert api.get("/api/v1/appeals/").json()["results"] == []
    assert Appeal.objects.count() == 1


def test_filing_answers_problem_details_for_bad_input_and_refusals(world: World) -> None:
    api = integrator(world)
    d = world.decision()

    missing = problem(api.post("/api/v1/appeals/", {"decision": str(d.pk)}), 400, "invalid-request")
    assert [e["field"] for e in missing["errors"]] == ["statement"]
    problem(
        api.post("/api/v1/appeals/", {"decision": "not-a-uuid", "statement": "x"}), 400, "invalid-request"
    )
    rep = problem(
        api.post(
            "/api/v1/appeals/",
            {"decision": str(d.pk), "statement": STATEMENT, "filed_by": "representative"},
        ),
        422,
        "validation-failed",
    )
    assert {e["field"] for e in rep["errors"]} == {"representative.name", "representative.authority"}
    assert api.post("/api/v1/appeals/", {"decision": str(d.pk), "statement": STATEMENT}).status_code == 201
    second = problem(
        api.post("/api/v1/appeals/", {"decision": str(d.pk), "statement": STATEMENT}),
        409,
        "appeal-already-open",
    )
    assert second["appeal"] == Appeal.objects.get().reference
    favourable = world.decision(adverse=False)
    problem(
        api.post("/api/v1/appeals/", {"decision": str(favourable.pk), "statement": STATEMENT}),
        409,
        "decision-not-adverse",
    )
    problem(
        api.client.post(
            "/api/v1/appeals/",
            "{",
            content_type="application/json",
            headers={**api.headers, "Idempotency-Key": "x"},
        ),
        400,
        "malformed-request",
    )


def test_a_representative_files_with_their_authority(world: World) -> None:
    d = world.decision()

    response = integrator(world).post(
        "/api/v1/appeals/",
        {
            "decision": str(d.pk),
            "statement": STATEMENT,
            "filed_by": "representative",
            "representative": {
                "name": "Ana Advocate",
                "email": "ana@law.example",
                "authority": "Signed form",
            },
        },
    )

    assert response.status_code == 201 and response.json()["filed_by"] == "representative"
    assert Appeal.objects.get().contact.representative_name == "Ana Advocate"
    assert "Ana" not in str(events(Appeal.objects.get(), "appeal.filed")[0].data)


# ------------------------------------------------------------------------------------------ reading


def test_the_list_is_cursor_paginated_and_filtered(world: World) -> None:
    appeals = [world.appeal() for _ in range(3)]
    Appeal.objects.filter(pk=appeals[0].pk).update(escalated=True)
    api = integrator(world)

    page = api.get("/api/v1/appeals/", {"page_size": 2}).json()
    assert [a["id"] for a in page["results"]] == [str(appeals[2].pk), str(appeals[1].pk)]
    rest = api.client.get(page["next"], headers=api.headers).json()
    assert [a["id"] for a in rest["results"]] == [str(appeals[0].pk)] and rest["next"] is None
    assert [a["reference"] for a in api.get("/api/v1/appeals/", {"escalated": "true"}).json()["results"]] == [
        appeals[0].reference
    ]
    assert (
        len(api.get("/api/v1/appeals/", {"status": "queued", "system": world.system.slug}).json()["results"])
        == 3
    )
    assert api.get("/api/v1/appeals/", {"status": "decided"}).json()["results"] == []
    assert len(api.get("/api/v1/appeals/", {"open": "true", "stayed": "true"}).json()["results"]) == 3
    bad = problem(api.get("/api/v1/appeals/", {"status": "nonsense"}), 400, "invalid-request")
    assert bad["errors"][0]["field"] == "status"


def test_reading_one_appeal_and_withdrawing_it(world: World) -> None:
    a = world.appeal(evidence=[("payslip.pdf", PDF)])
    api = integrator(world)

    detail = api.get(f"/api/v1/appeals/{a.pk}/").json()
    assert detail["reference"] == a.reference and [e["name"] for e in detail["evidence"]] == ["payslip.pdf"]
    withdrawn = api.post(f"/api/v1/appeals/{a.pk}/withdraw/", {"reason": "Sorted out by phone."})

    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert events(a, "appeal.withdrawn")[0].actor_type == "api_client"
    problem(api.get(f"/api/v1/appeals/{Decision.objects.first().pk}/"), 404, "not-found")  # type: ignore[union-attr]


def test_evidence_is_uploaded_as_multipart_and_checked_by_its_bytes(world: World) -> None:
    a = world.appeal()
    api = integrator(world)
    url = f"/api/v1/appeals/{a.pk}/evidence/"

    def files(*items: tuple[str, bytes]) -> dict[str, Any]:
        return {"files": [SimpleUploadedFile(name, content) for name, content in items]}

    response = api.post(url, files(("payslip.pdf", PDF), ("letter.png", PNG)), key="ev-1", multipart=True)
    replay = api.post(url, files(("payslip.pdf", PDF), ("letter.png", PNG)), key="ev-1", multipart=True)

    assert response.status_code == 201, response.content
    assert [(f["name"], f["content_type"]) for f in response.json()] == [
        ("payslip.pdf", "application/pdf"),
        ("letter.png", "image/png"),
    ]
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert EvidenceFile.objects.filter(appeal=a).count() == 2
    assert len(events(a, "appeal.evidence_added")) == 1
    problem(
        api.post(url, files(("payslip.pdf", PNG)), key="ev-1", multipart=True), 422, "idempotency-key-reused"
    )
    rejected = problem(
        api.post(url, files(("evil.pdf", b"MZ\x90\x00")), multipart=True), 422, "evidence-rejected"
    )
    assert rejected["errors"][0]["code"] == "unsupported-type"
    problem(api.post(url, {}, multipart=True), 422, "validation-failed")
    problem(api.post(url, {"files": "x"}), 415, "unsupported-media-type")
    assert EvidenceFile.objects.filter(appeal=a).count() == 2


# ------------------------------------------------------------------------------ disputes, explanations


def test_an_integrator_passes_on_a_data_dispute_and_an_explanation_request(world: World) -> None:
    d = world.decision()
    api = integrator(world)

    dispute = api.post(
        f"/api/v1/decisions/{d.pk}/disputes/",
        {"feature": "annual_income", "what_is_wrong": "I earn 31,000 now.", "proposed_value": 31000},
    )
    explanation = api.post(f"/api/v1/decisions/{d.pk}/explanation-requests/", {"question": "Why my address?"})

    assert dispute.status_code == 201 and dispute.json()["status"] == "open"
    assert explanation.status_code == 201 and explanation.json()["reference"].startswith("EXP")
    dsp = DataDispute.objects.get()
    assert dsp.channel == "api" and dsp.decision_input.disputed
    assert events(dsp, "dispute.filed")[0].actor_type == "api_client"
    assert events(ExplanationRequest.objects.get(), "explanation_request.filed")
    unknown = problem(
        api.post(f"/api/v1/decisions/{d.pk}/disputes/", {"feature": "shoe_size", "what_is_wrong": "No."}),
        422,
        "validation-failed",
    )
    assert unknown["errors"][0]["field"] == "feature"
    problem(
        api.post(
            f"/api/v1/decisions/{make_world().decision().pk}/explanation-requests/", {"question": "Why?"}
        ),
        404,
        "not-found",
    )


# ------------------------------------------------------------------------------------------ review


def test_review_steps_are_for_reviewers_signed_in_not_for_api_keys(world: World) -> None:
    world.appeal()
    api = integrator(world)

    problem(api.post("/api/v1/review/claim-next/", {}), 403, "permission-denied")
    problem(Api().post("/api/v1/review/claim-next/", {}), 401, "not-authenticated")
    assert Appeal.objects.get().claimed_by is None


def test_a_reviewer_works_a_case_through_the_api_to_an_overturn(world: World) -> None:
    a = world.appeal(evidence=[("payslip.pdf", PDF)])
    f = EvidenceFile.objects.get(appeal=a)
    api = Api(user=world.alice)

    claimed = api.post("/api/v1/review/claim-next/", {}).json()
    assert claimed["appeal"]["id"] == str(a.pk) and claimed["appeal"]["claimed"] is True
    decide = {"outcome": "overturned", "rationale": RATIONALE, "evidence_relied_on": ["statement", str(f.pk)]}
    refused = problem(api.post(review("decide", a), decide), 409, "evidence-not-opened")
    assert sorted(refused["unopened"]) == sorted(["statement", str(f.pk)])
    statement = api.post(review("open-evidence", a), {}).json()
    assert statement["statement"] == STATEMENT and statement["unopened"] == [str(f.pk)]
    opened = api.post(review("open-evidence", a), {"evidence": str(f.pk)}).json()
    assert (
        opened["download"].endswith(f"/review/appeals/{a.pk}/evidence/{f.pk}/") and opened["unopened"] == []
    )

    decided = api.post(review("decide", a), {**decide, "remedy": ["correction"]})

    assert decided.status_code == 200, decided.content
    body = decided.json()
    assert (
        body["status"] == "decided" and body["outcome"] == "overturned" and body["remedy"] == ["correction"]
    )
    assert body["resulting_decision"]["public_reference"]
    assert Decision.objects.get(pk=a.decision_id).status == Decision.Status.REVERSED
    assert webhooks("appeal.decided") and notices_about(a, "decision_reversed")
    assert events(a, "appeal.decided")[0].actor_id == str(world.alice.pk)
    problem(api.post(review("decide", a), decide), 409, "transition-not-allowed")


def test_claim_next_says_so_when_nothing_is_claimable(world: World) -> None:
    response = Api(user=world.alice).post("/api/v1/review/claim-next/", {"stage": "second"})

    assert response.status_code == 200 and response.json()["appeal"] is None
    assert "no case" in response.json()["detail"]
    problem(Api(user=world.alice).post("/api/v1/review/claim-next/", {"queue": 999999}), 404, "not-found")
    problem(
        Api(user=world.alice).post("/api/v1/review/claim-next/", {"stage": "third"}), 400, "invalid-request"
    )


def test_blind_review_through_the_api_shows_the_machine_only_after_the_assessment(db: Any) -> None:
    w = make_world(blind_review=True)
    a = w.claimed()
    w.open_everything(a, w.alice)
    api = Api(user=w.alice)
    decide = {"outcome": "upheld", "rationale": RATIONALE, "evidence_relied_on": ["statement"]}

    problem(api.post(review("decide", a), decide), 409, "blind-assessment-required")
    problem(api.post(review("blind-assessment", a), {"outcome": "nope"}), 422, "validation-failed")
    assessed = api.post(review("blind-assessment", a), {"outcome": "approved", "note": "Looks fine"})

    assert assessed.status_code == 201
    assert assessed.json()["outcome"] == "approved" and assessed.json()["machine"]["outcome"] == "declined"
    problem(api.post(review("blind-assessment", a), {"outcome": "declined"}), 409, "assessment-recorded")
    assert api.post(review("decide", a), decide).json()["status"] == "decided"


def test_asking_for_information_and_messaging_through_the_api(world: World) -> None:
    a = world.claimed()
    api = Api(user=world.alice)

    message = api.post(review("messages", a), {"body": "Could you send the March payslip?"})
    asked = api.post(
        review("request-information", a), {"question": "Who paid you in March?", "reply_days": 7}
    )

    assert message.status_code == 201 and message.json()["author"] == world.alice.get_username()
    assert [m["body"] for m in api.get(review("messages", a)).json()] == ["Could you send the March payslip?"]
    assert asked.status_code == 201 and asked.json()["question"] == "Who paid you in March?"
    a.refresh_from_db()
    assert a.status == State.AWAITING_APPELLANT
    assert notices_about(a, "information_requested")
    problem(api.post(review("request-information", a), {"question": "Again?"}), 409, "transition-not-allowed")
    problem(api.post(review("messages", a), {"body": ""}), 400, "invalid-request")
    problem(Api(user=world.bob).post(review("messages", a), {"body": "Hi"}), 403, "not-claimant")
    assert AppealMessage.objects.count() == 1


def test_release_reassign_and_second_review_through_the_api(db: Any) -> None:
    w = make_world(four_eyes=True)
    a = w.claimed()

    released = Api(user=w.alice).post(review("release", a), {"reason": "Leave"})
    assert released.status_code == 200 and released.json()["claimed"] is False
    problem(Api(user=w.alice).post(review("reassign", a), {"to": w.bob.pk}), 403, "supervisor-only")
    problem(Api(user=w.senior).post(review("reassign", a), {"to": 999999}), 422, "validation-failed")
    assert Api(user=w.senior).post(review("reassign", a), {"to": w.alice.pk}).status_code == 200
    a.refresh_from_db()
    assert a.claimed_by == w.alice and events(a, "appeal.assigned")

    w.open_everything(a, w.alice)
    upheld = Api(user=w.alice).post(
        review("decide", a),
        {"outcome": "upheld", "rationale": RATIONALE, "evidence_relied_on": ["statement"]},
    )
    assert upheld.json()["status"] == "awaiting_second_review"
    bob = Api(user=w.bob)
    assert bob.post("/api/v1/review/claim-next/", {"stage": "second"}).json()["appeal"]["id"] == str(a.pk)
    bob.post(review("open-evidence", a), {})
    confirmed = bob.post(review("confirm-second", a), {"confirm": True, "rationale": RATIONALE})

    assert confirmed.status_code == 200 and confirmed.json()["status"] == "decided"
    assert events(a, "appeal.second_review_confirmed")


@pytest.mark.parametrize("oversight_guard", [True, False], ids=["with-oversight-guard", "appeals-alone"])
def test_auditors_get_403_on_every_post_of_the_api(
    world: World, settings: Any, oversight_guard: bool
) -> None:
    if not oversight_guard:  # appeals refuses auditors by itself, whatever a higher floor adds
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "AuditorReadOnly" not in m]
    a = world.claimed()
    d = world.decision()
    user = UserFactory.create()
    user.groups.add(Group.objects.get_or_create(name="auditor")[0])
    api = Api(user=user)

    assert api.get(f"/api/v1/appeals/{a.pk}/").status_code == 200  # auditors read
    assert api.get(review("messages", a)).status_code == 200
    for path in [
        "/api/v1/appeals/",
        f"/api/v1/appeals/{a.pk}/withdraw/",
        f"/api/v1/appeals/{a.pk}/evidence/",
        "/api/v1/review/claim-next/",
        *(review(step, a) for step in ["release", "reassign", "open-evidence", "blind-assessment"]),
        *(review(step, a) for step in ["decide", "confirm-second", "request-information", "messages"]),
        f"/api/v1/decisions/{d.pk}/disputes/",
        f"/api/v1/decisions/{d.pk}/explanation-requests/",
    ]:
        response = api.post(path, {"decision": str(d.pk), "statement": STATEMENT})
        assert response.status_code == 403 and response["Content-Type"] == PROBLEM_CONTENT_TYPE, path
        # Refused by the appeals API itself, or before it by oversight's read-only middleware for auditors.
        assert response.json()["code"] in {"permission-denied", "auditor-read-only"}
    a.refresh_from_db()
    assert a.status == State.IN_REVIEW and not events(a, "appeal.evidence_opened")
    assert Appeal.objects.count() == 1 and not DataDispute.objects.exists()


def test_a_reviewer_outside_the_queue_does_not_see_the_appeal(world: World) -> None:
    a = world.claimed()
    outsider = User.objects.create(username="outsider")
    outsider.groups.add(Group.objects.get_or_create(name="reviewer")[0])
    api = Api(user=outsider)

    problem(api.get(f"/api/v1/appeals/{a.pk}/"), 404, "not-found")
    problem(api.post(review("open-evidence", a), {}), 404, "not-found")
    assert api.get("/api/v1/appeals/").json()["results"] == []
    other_client = ApiClientFactory.create()
    assert not services.Appeal.objects.filter(decision__system__api_clients=other_client).exists()
