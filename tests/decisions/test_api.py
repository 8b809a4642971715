"""API v1 for decisions and systems: the contract, problem details for every refusal, idempotency, scoping,
batches and constant query counts."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from core import apikeys
from core.actors import SYSTEM
from core.models import AuditEvent
from decisions import services
from decisions.models import Decision, Subject
from tests.decisions.test_record import REFUSALS, counts
from tests.factories import UserFactory, decision_payload, live_system

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


class Integrator:
    """An API client with its key, scoped to some systems, posting with fresh Idempotency-Keys."""

    def __init__(self, *systems: Any, name: str | None = None) -> None:
        self.client, self.key = apikeys.api_client_create(
            name=name or f"integrator-{uuid.uuid4().hex[:8]}", systems=list(systems), actor=SYSTEM
        )
        self.http = APIClient()
        self.http.credentials(HTTP_AUTHORIZATION=f"Bearer {self.key}")

    def post(self, url: str, body: Any, *, key: str | None = None) -> Any:
        return self.http.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4()))

    def get(self, url: str, **params: Any) -> Any:
        return self.http.get(url, params)


@pytest.fixture
def credit():
    return live_system(slug="credit-limit")


@pytest.fixture
def integrator(credit):
    return Integrator(credit[0])


def test_posting_a_decision_records_it_and_answers_201_with_its_reference_and_links(credit, integrator):
    system, version = credit
    payload = decision_payload(system, version)

    response = integrator.post("/api/v1/decisions/", payload)

    assert response.status_code == 201, response.json()
    body = response.json()
    decision = Decision.objects.get(pk=body["id"])
    assert body["public_reference"] == decision.public_reference
    assert body["status"] == "pending_notice"
    assert body["adverse"] is True
    assert body["external_id"] == payload["external_id"]
    assert body["links"]["self"].endswith(f"/api/v1/decisions/{decision.pk}/")
    assert "portal" in body["links"]
    assert decision.recorded_by == integrator.client
    event = AuditEvent.objects.get(action="decision.recorded")
    assert (event.actor_type, event.actor_id) == ("api_client", str(integrator.client.pk))


def test_the_same_decision_under_a_new_idempotency_key_answers_200_with_the_recorded_one(credit, integrator):
    system, version = credit
    payload = decision_payload(system, version)
    first = integrator.post("/api/v1/decisions/", payload)
    again = integrator.post("/api/v1/decisions/", payload)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Decision.objects.count() == 1


def test_the_same_idempotency_key_replays_the_first_response(credit, integrator):
    system, version = credit
    payload = decision_payload(system, version)
    first = integrator.post("/api/v1/decisions/", payload, key="k-1")
    again = integrator.post("/api/v1/decisions/", payload, key="k-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


def test_a_post_without_an_idempotency_key_is_refused(credit, integrator):
    system, version = credit
    response = integrator.http.post("/api/v1/decisions/", decision_payload(system, version), format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "idempotency-key-missing"
    assert Decision.objects.count() == 0


def test_a_different_decision_under_a_used_external_id_is_a_409_problem(credit, integrator):
    system, version = credit
    payload = decision_payload(system, version)
    integrator.post("/api/v1/decisions/", payload)
    before = counts()
    response = integrator.post("/api/v1/decisions/", {**payload, "score": "700"})
    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "external-id-conflict"
    assert counts() == before


def test_without_an_api_key_the_api_answers_401(credit):
    response = APIClient().post("/api/v1/decisions/", {}, format="json")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM


@pytest.mark.parametrize(("mutate", "field", "code"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_every_refusal_answers_problem_details_and_writes_nothing(credit, integrator, mutate, field, code):
    system, version = credit
    payload = decision_payload(system, version)
    mutate(payload)
    before = counts()

    response = integrator.post("/api/v1/decisions/", payload)

    assert response.status_code in (400, 422), response.json()
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail", "instance", "code"} <= set(body)
    assert body["status"] == response.status_code
    assert field in [e["field"] for e in body["errors"]], body
    if response.status_code == 422:  # the service's refusal: its own code
        assert (field, code) in [(e["field"], e["code"]) for e in body["errors"]]
    assert counts() == before


def test_recording_for_a_system_outside_the_keys_scope_is_403(credit):
    system, version = credit
    other, _ = live_system()
    outsider = Integrator(other)
    before = counts()
    response = outsider.post("/api/v1/decisions/", decision_payload(system, version))
    assert response.status_code == 403
    assert response.json()["code"] == "system-not-in-scope"
    assert counts() == before


def test_a_system_that_is_not_live_answers_422():
    system, version = live_system(status="draft")
    response = Integrator(system).post("/api/v1/decisions/", decision_payload(system, version))
    assert response.status_code == 422
    assert response.json()["code"] == "system-not-live"


# ---------------------------------------------------------------------------------------------- batch


def test_a_batch_answers_each_item_on_its_own(credit, integrator):
    system, version = credit
    good = decision_payload(system, version)
    replay = decision_payload(system, version)
    integrator.post("/api/v1/decisions/", replay)
    refused = decision_payload(system, version, reasons=[])
    malformed = decision_payload(system, version)
    del malformed["inputs"]
    items = [good, refused, replay, malformed, decision_payload(system, version, adverse=False)]

    response = integrator.post("/api/v1/decisions/batch/", {"items": items})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert [r["result"] for r in body["results"]] == ["created", "refused", "replayed", "refused", "created"]
    assert body["summary"] == {"created": 2, "replayed": 1, "refused": 2}
    refused_problem = body["results"][1]["problem"]
    assert refused_problem["status"] == 422
    assert refused_problem["instance"].endswith("#items/1")
    assert refused_problem["errors"][0] == {
        "field": "reasons",
        "code": "reasons-required",
        "message": refused_problem["errors"][0]["message"],
    }
    malformed_problem = body["results"][3]["problem"]
    assert (malformed_problem["status"], malformed_problem["code"]) == (400, "invalid-request")
    assert malformed_problem["errors"][0]["field"] == "inputs"
    assert body["results"][0]["decision"]["public_reference"].startswith("CRD-")
    assert Decision.objects.count() == 3


def test_a_batch_of_more_than_a_thousand_is_a_422_problem(credit, integrator):
    system, version = credit
    item = decision_payload(system, version)
    response = integrator.post("/api/v1/decisions/batch/", {"items": [item] * 1001})
    assert response.status_code == 422
    assert response.json()["code"] == "batch-too-large"
    assert Decision.objects.count() == 0


def test_a_batch_without_items_is_a_400_problem(integrator):
    response = integrator.post("/api/v1/decisions/batch/", {"decisions": []})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "items"


# ---------------------------------------------------------------------------------------------- reads


def test_an_api_key_sees_only_its_systems_decisions(credit, integrator):
    system, version = credit
    other, other_version = live_system()
    mine = services.decision_record(data=decision_payload(system, version), actor=SYSTEM).decision
    theirs = services.decision_record(data=decision_payload(other, other_version), actor=SYSTEM).decision

    listed = integrator.get("/api/v1/decisions/").json()["results"]
    assert [d["id"] for d in listed] == [str(mine.pk)]
    assert integrator.get(f"/api/v1/decisions/{mine.pk}/").status_code == 200
    hidden = integrator.get(f"/api/v1/decisions/{theirs.pk}/")
    assert hidden.status_code == 404
    assert hidden["Content-Type"] == PROBLEM
    assert integrator.get(f"/api/v1/decisions/{uuid.uuid4()}/").status_code == 404


def test_staff_see_every_decision_through_their_session(credit):
    system, version = credit
    other, other_version = live_system()
    services.decision_record(data=decision_payload(system, version), actor=SYSTEM)
    services.decision_record(data=decision_payload(other, other_version), actor=SYSTEM)
    http = APIClient()
    http.force_login(UserFactory.create(is_staff=True))
    assert len(http.get("/api/v1/decisions/").json()["results"]) == 2


def test_the_full_record_has_inputs_reasons_human_steps_and_the_explanation(credit, integrator):
    system, version = credit
    payload = decision_payload(
        system,
        version,
        counterfactuals=[{"feature": "annual_income", "value": 30000}],
        human_involvement=[{"kind": "review", "by": "EMP-9", "at": "2026-01-01T09:00:00Z"}],
    )
    created = integrator.post("/api/v1/decisions/", payload).json()

    body = integrator.get(f"/api/v1/decisions/{created['id']}/").json()

    assert body["system"] == "credit-limit"
    assert body["subject"]["external_ref"] == payload["subject"]["external_ref"]
    assert "email" not in body["subject"] and "name" not in body["subject"]
    assert body["automation"] == "partial"
    assert [r["code"] for r in body["reasons"]] == ["INCOME_LOW", "DEBT_HIGH"]
    assert body["reasons"][0]["text"]["es"]
    assert {i["feature"] for i in body["inputs"]} == {i["feature"] for i in payload["inputs"]}
    assert body["human_involvement"] == [{"kind": "review", "by": "EMP-9", "at": "2026-01-01T09:00:00Z"}]
    assert body["explanation"]["counterfactual"][0]["to"] == 30000
    assert body["explanation"]["responsibility"]["organisation"] == system.owner_organisation
    assert body["supersedes"] is None and body["superseded_by"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"outcome": "approved"}, {"favourable"}),
        ({"status": "pending_notice"}, {"adverse"}),
        ({"adverse": "true"}, {"adverse"}),
        ({"system": "credit-limit"}, {"adverse", "favourable"}),
        ({"system": "nope"}, set()),
        ({"subject": "ext:adverse"}, {"adverse"}),
        ({"subject": "pseudonym:favourable"}, {"favourable"}),
        ({"decided_after": "2000-01-01T00:00:00Z"}, {"adverse", "favourable"}),
        ({"decided_before": "2000-01-01T00:00:00Z"}, set()),
    ],
)
def test_the_decision_list_filters(credit, integrator, params, expected):
    system, version = credit
    made = {
        "adverse": services.decision_record(data=decision_payload(system, version), actor=SYSTEM).decision,
        "favourable": services.decision_record(
            data=decision_payload(system, version, adverse=False), actor=SYSTEM
        ).decision,
    }
    for name, value in list(params.items()):
        if value.startswith("ext:"):
            params[name] = made[value[4:]].subject.external_ref
        elif value.startswith("pseudonym:"):
            params[name] = made[value[10:]].subject.pseudonym
    ids = {d["id"] for d in integrator.get("/api/v1/decisions/", **params).json()["results"]}
    assert ids == {str(made[k].pk) for k in expected}


def test_an_invalid_filter_is_a_400_problem(integrator):
    response = integrator.get("/api/v1/decisions/", status="nonsense")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["errors"][0]["field"] == "status"


def test_the_decision_list_pages_with_a_cursor(credit, integrator):
    system, version = credit
    services.decision_record_many(items=[decision_payload(system, version) for _ in range(5)], actor=SYSTEM)
    first = integrator.get("/api/v1/decisions/", page_size=3).json()
    second = integrator.http.get(first["next"]).json()
    ids = [d["id"] for d in first["results"] + second["results"]]
    assert len(ids) == len(set(ids)) == 5
    assert ids == sorted(ids, reverse=True)  # newest first (uuid7 ids are time-ordered)
    assert second["next"] is None


def _queries(integrator: Integrator, url: str) -> int:
    integrator.get(url)  # warm: the key's last-use stamp is written at most once a minute
    with CaptureQueriesContext(connection) as ctx:
        assert integrator.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_reading_decisions_costs_the_same_number_of_queries_however_many_there_are(
    credit, integrator, django_assert_max_num_queries
):
    system, version = credit
    services.decision_record_many(items=[decision_payload(system, version) for _ in range(2)], actor=SYSTEM)
    few = _queries(integrator, "/api/v1/decisions/")
    services.decision_record_many(items=[decision_payload(system, version) for _ in range(20)], actor=SYSTEM)
    many = _queries(integrator, "/api/v1/decisions/")
    assert many == few
    decision = Decision.objects.order_by("id")[0]
    with django_assert_max_num_queries(8):
        integrator.get(f"/api/v1/decisions/{decision.pk}/")


# ---------------------------------------------------------------------------------------------- supersede


def test_a_correction_through_the_api_supersedes_the_decision(credit, integrator):
    system, version = credit
    payload = decision_payload(system, version)
    old = integrator.post("/api/v1/decisions/", payload).json()
    fix = decision_payload(system, version, subject=payload["subject"], adverse=False)

    response = integrator.post(f"/api/v1/decisions/{old['id']}/supersede/", fix)

    assert response.status_code == 201, response.json()
    assert Decision.objects.get(pk=old["id"]).status == "superseded"
    assert integrator.get(f"/api/v1/decisions/{old['id']}/").json()["superseded_by"] == response.json()["id"]


def test_a_correction_of_a_decision_outside_the_scope_is_404(credit):
    system, version = credit
    decision = services.decision_record(data=decision_payload(system, version), actor=SYSTEM).decision
    other, _ = live_system()
    fix = decision_payload(system, version, adverse=False)
    response = Integrator(other).post(f"/api/v1/decisions/{decision.pk}/supersede/", fix)
    assert response.status_code == 404


# ---------------------------------------------------------------------------------------------- systems


def test_systems_and_versions_are_readable_within_the_scope(credit, integrator):
    system, version = credit
    other, _ = live_system()

    listed = integrator.get("/api/v1/systems/").json()["results"]
    assert [s["slug"] for s in listed] == ["credit-limit"]

    detail = integrator.get("/api/v1/systems/credit-limit/").json()
    assert detail["impact_level"] == 2
    assert detail["policy"]["appeal_window_days"] == system.appeal_window_days
    assert [v["version"] for v in detail["versions"]] == ["1.0"]

    v = integrator.get(f"/api/v1/systems/credit-limit/versions/{version.version}/").json()
    assert {f["name"] for f in v["features"]} == set(version.features.values_list("name", flat=True))
    assert {r["code"] for r in v["reason_codes"]} >= {"INCOME_LOW", "DEBT_HIGH"}
    assert {o["code"]: o["adverse"] for o in v["outcomes"]} == {"approved": False, "declined": True}
    assert v["reason_codes"][0]["text"]["es"]

    assert integrator.get(f"/api/v1/systems/{other.slug}/").status_code == 404
    assert integrator.get(f"/api/v1/systems/{other.slug}/versions/1.0/").status_code == 404
    assert integrator.get("/api/v1/systems/credit-limit/versions/9.9/").status_code == 404


def test_reading_a_version_costs_a_fixed_number_of_queries(credit, integrator, django_assert_max_num_queries):
    _system, version = credit
    integrator.get(f"/api/v1/systems/credit-limit/versions/{version.version}/")
    with django_assert_max_num_queries(7):
        integrator.get(f"/api/v1/systems/credit-limit/versions/{version.version}/")
    with django_assert_max_num_queries(5):
        integrator.get("/api/v1/systems/credit-limit/")


# ---------------------------------------------------------------------------------------------- schema


def test_the_schema_declares_every_4xx_each_endpoint_can_answer():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    expected = {
        ("/api/v1/decisions/", "post"): {"400", "401", "403", "409", "422"},
        ("/api/v1/decisions/", "get"): {"400", "401", "403"},
        ("/api/v1/decisions/batch/", "post"): {"400", "401", "422"},
        ("/api/v1/decisions/{id}/", "get"): {"401", "403", "404"},
        ("/api/v1/decisions/{id}/supersede/", "post"): {"400", "401", "403", "404", "409", "422"},
        ("/api/v1/systems/", "get"): {"401", "403"},
        ("/api/v1/systems/{slug}/", "get"): {"401", "403", "404"},
        ("/api/v1/systems/{slug}/versions/{version}/", "get"): {"401", "403", "404"},
    }
    for (path, method), statuses in expected.items():
        responses = schema["paths"][path][method]["responses"]
        assert statuses <= set(responses), (path, method, sorted(responses))
        for status in statuses:
            assert "application/problem+json" in responses[status]["content"]
    post = schema["paths"]["/api/v1/decisions/"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])


def test_the_subject_contact_is_stored_apart_and_never_listed(credit, integrator):
    system, version = credit
    payload = copy.deepcopy(decision_payload(system, version))
    integrator.post("/api/v1/decisions/", payload)
    subject = Subject.objects.get()
    assert subject.contact.email == payload["subject"]["email"]
    listed = integrator.get("/api/v1/decisions/").json()["results"][0]
    assert payload["subject"]["email"] not in str(listed)
    assert listed["subject"] == subject.pseudonym
