"""S31: DSA statements of reasons for content systems, valid against the schema and its x-rules, with no
personal data, automation flags from the record (S7) and stable puids; file export and API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from jsonschema import Draft202012Validator

from core import apikeys
from core.actors import Actor
from decisions import dsa
from decisions.models import Decision, Outcome
from tests.decisions.builders import make_decision, make_system

pytestmark = pytest.mark.django_db

SHARED_SCHEMA = (
    Path(__file__).resolve().parents[3] / "shared" / "reference" / "dsa_statement_of_reasons.schema.json"
)
ADMIN = Actor(kind="user", id="1", label="admin")


def _valid(statement: dict[str, Any]) -> None:
    """Both checks, independently: the jsonschema library on the schema, and our x-rules."""
    Draft202012Validator(dsa.schema()).validate(statement)
    assert dsa.x_rule_problems(statement) == []


def test_the_bundled_schema_is_the_shared_reference() -> None:
    if not SHARED_SCHEMA.exists():
        pytest.skip("shared/reference is not beside this checkout")
    assert json.loads(SHARED_SCHEMA.read_text()) == dsa.schema()


def test_a_content_decision_becomes_a_valid_statement_of_reasons() -> None:
    decision, _ = make_decision(domain="content_moderation", automation="full")
    s = dsa.statement_for(decision)
    _valid(s)
    assert s["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert s["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert s["category"] == "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"
    assert s["automated_detection"] == "Yes"
    assert s["automated_decision"] == "AUTOMATED_DECISION_FULLY"
    assert s["content_date"] == "2027-03-01"  # the posted_at input
    assert s["application_date"] == "2027-03-04"
    assert s["puid"] == "contestable-" + decision.pk.hex
    assert "Your post had links to sites that send spam." in s["decision_facts"]
    assert s["incompatible_content_explanation"] == s["decision_facts"]


@pytest.mark.parametrize(
    ("automation", "detection", "decided"),
    [
        ("full", "Yes", "AUTOMATED_DECISION_FULLY"),
        ("partial", "Yes", "AUTOMATED_DECISION_PARTIALLY"),
        ("none", "No", "AUTOMATED_DECISION_NOT_AUTOMATED"),
    ],
)
def test_the_automation_fields_come_from_the_record(automation: str, detection: str, decided: str) -> None:
    decision, _ = make_decision(domain="content_moderation", automation=automation)
    s = dsa.statement_for(decision)
    assert (s["automated_detection"], s["automated_decision"]) == (detection, decided)
    Decision.objects.filter(pk=decision.pk).update(automated_detection=not decision.automated_detection)
    flipped = dsa.statement_for(Decision.objects.get(pk=decision.pk))
    assert flipped["automated_detection"] != detection


def test_the_demo_style_outcome_setting_maps_categories_and_restriction_end_dates() -> None:
    decision, _ = make_decision(domain="content_moderation")
    Outcome.objects.filter(pk=decision.outcome_id).update(
        dsa={
            "statement": {
                "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
                "decision_account": "DECISION_ACCOUNT_SUSPENDED",
                "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
                "content_type": ["CONTENT_TYPE_TEXT"],
                "source_type": "SOURCE_ARTICLE_16",
            },
            "category_by_reason": {"SPAM_LINKS": "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"},
            "account_restriction_days": 7,
        }
    )
    s = dsa.statement_for(Decision.objects.get(pk=decision.pk))
    _valid(s)
    assert s["category"] == "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"
    assert s["end_date_account_restriction"] == "2027-03-11"
    assert s["illegal_content_legal_ground"] == decision.system.legal_basis
    assert "category_by_reason" not in s and "statement" not in s


_BASE: dict[str, Any] = {
    "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
    "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
    "incompatible_content_ground": "Rules 3",
    "incompatible_content_explanation": "Spam.",
    "content_type": ["CONTENT_TYPE_TEXT"],
    "category": "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
    "content_date": "2027-03-01",
    "application_date": "2027-03-04",
    "decision_facts": "Spam.",
    "source_type": "SOURCE_VOLUNTARY",
    "automated_detection": "Yes",
    "automated_decision": "AUTOMATED_DECISION_FULLY",
    "puid": "contestable-1",
}


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"decision_visibility": None}, "one of decision_visibility"),
        ({"decision_visibility": ["DECISION_VISIBILITY_OTHER"]}, "decision_visibility_other is required"),
        ({"decision_monetary": "DECISION_MONETARY_OTHER"}, "decision_monetary_other is required"),
        ({"content_type": ["CONTENT_TYPE_OTHER"]}, "content_type_other is required"),
        ({"decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT"}, "illegal_content_legal_ground is required"),
        ({"incompatible_content_explanation": ""}, "incompatible_content_explanation is required"),
        ({"incompatible_content_ground": None}, "incompatible_content_ground is required"),
        (
            {"decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT", "illegal_content_legal_ground": "Law",
             "illegal_content_explanation": "x", "incompatible_content_illegal": "No"},
            "incompatible_content_illegal goes only with",
        ),
        ({"content_date": "1999-12-31"}, "content_date must be"),
        ({"application_date": "2019-12-31"}, "application_date must be"),
        ({"application_date": "2027-02-30"}, "application_date must be"),
    ],
)  # fmt: skip
def test_the_x_rules_checker_catches_each_rule(change: dict[str, Any], rule: str) -> None:
    assert dsa.x_rule_problems(_BASE) == []
    problems = dsa.x_rule_problems({**_BASE, **change})
    assert any(rule in p for p in problems), problems


def test_the_x_rules_checker_catches_personal_data() -> None:
    statement = {**_BASE, "decision_facts": "Posted by Ana García (ana@mail.example)."}
    assert dsa.x_rule_problems(statement, personal=["Ana García"]) == [
        "the statement contains personal data of the person concerned"
    ]


def test_the_batch_rules_allow_one_to_one_hundred_statements_with_distinct_puids() -> None:
    assert dsa.batch_problems([_BASE]) == []
    assert dsa.batch_problems([]) != []
    many = [{**_BASE, "puid": f"p{i}"} for i in range(101)]
    assert dsa.batch_problems(many) == ["a batch holds 1 to 100 statements, not 101"]
    assert dsa.batch_problems([_BASE, _BASE]) == ["puid contestable-1 is used twice"]
    assert dsa.batch_problems([_BASE], seen_puids={"contestable-1"}) == ["puid contestable-1 is used twice"]


def test_schema_errors_are_reported_too() -> None:
    problems = dsa.statement_problems({**_BASE, "automated_detection": "yes", "puid": "bad puid!"})
    assert any(p.startswith("automated_detection:") for p in problems)
    assert any(p.startswith("puid:") for p in problems)


# ------------------------------------------------------------------------------------------------ export


def _content_decisions(n: int, **kwargs: Any) -> list[Decision]:
    system = make_system("content_moderation")
    people = [(f"Person Number{i}", f"person{i}@mail.example", f"ACC-{i:06d}") for i in range(n)]
    return [make_decision(system, name=a, email=b, external_ref=c, **kwargs)[0] for a, b, c in people]


def test_the_command_writes_files_of_at_most_one_hundred_valid_statements(tmp_path: Path) -> None:
    decisions = _content_decisions(205)
    system = decisions[0].system
    make_decision(system, adverse=False)  # no statement: nothing was restricted
    make_decision(system, status=Decision.Status.AWAITING_HUMAN)  # nothing decided yet
    (tmp_path / "sor.json.4").write_text("stale")
    out = tmp_path / "sor.json"
    call_command("export_dsa_statements", "--system", system.slug, "--out", str(out))
    files = [out, tmp_path / "sor.json.2", tmp_path / "sor.json.3"]
    assert not (tmp_path / "sor.json.4").exists()
    batches = [json.loads(f.read_text())["statements"] for f in files]
    assert [len(b) for b in batches] == [100, 100, 5]
    everything = [s for b in batches for s in b]
    assert {s["puid"] for s in everything} == {dsa.puid_for(d) for d in decisions}
    seen: set[str] = set()
    for batch in batches:
        assert dsa.batch_problems(batch, seen_puids=seen) == []
        seen |= {s["puid"] for s in batch}
        for s in batch:
            _valid(s)
    text = "".join(f.read_text() for f in files)
    for d in decisions:
        for personal in (
            d.subject.contact.name,
            d.subject.contact.email,
            d.subject.external_ref,
            d.subject.pseudonym,
        ):
            assert personal not in text


def test_exporting_again_gives_the_same_puids(tmp_path: Path) -> None:
    decisions = _content_decisions(3)
    slug = decisions[0].system.slug
    call_command("export_dsa_statements", "--system", slug, "--out", str(tmp_path / "a.json"))
    call_command("export_dsa_statements", "--system", slug, "--out", str(tmp_path / "b.json"))
    a = [s["puid"] for s in json.loads((tmp_path / "a.json").read_text())["statements"]]
    b = [s["puid"] for s in json.loads((tmp_path / "b.json").read_text())["statements"]]
    assert a == b == [dsa.puid_for(d) for d in decisions]


def test_the_command_refuses_a_system_that_is_not_about_content(tmp_path: Path) -> None:
    decision, _ = make_decision(domain="credit")
    with pytest.raises(CommandError, match="only for content moderation systems"):
        call_command(
            "export_dsa_statements", "--system", decision.system.slug, "--out", str(tmp_path / "x.json")
        )
    assert not (tmp_path / "x.json").exists()


def test_the_command_refuses_an_unknown_system(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No decision system"):
        call_command("export_dsa_statements", "--system", "nope", "--out", str(tmp_path / "x.json"))


def test_the_command_writes_nothing_when_a_statement_is_invalid(tmp_path: Path) -> None:
    decisions = _content_decisions(2)
    Outcome.objects.filter(pk=decisions[0].outcome_id).update(
        dsa={"decision_ground": "DECISION_GROUND_ILLEGAL"}
    )
    with pytest.raises(CommandError, match="failed validation"):
        call_command(
            "export_dsa_statements", "--system", decisions[0].system.slug, "--out", str(tmp_path / "x.json")
        )
    assert not (tmp_path / "x.json").exists()


# --------------------------------------------------------------------------------------------------- API

URL = "/api/v1/exports/dsa-statements/"


def test_the_api_pages_statements_by_one_hundred_for_the_clients_own_system(client: Any) -> None:
    decisions = _content_decisions(130)
    system = decisions[0].system
    _api_client, key = apikeys.api_client_create(name="platform", systems=[system], actor=ADMIN)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    first = client.get(URL, {"system": system.slug}, **auth)
    assert first.status_code == 200, first.content
    body = first.json()
    assert len(body["statements"]) == 100
    second = client.get(body["next"], **auth).json()
    assert len(second["statements"]) == 30
    assert second["next"] is None
    puids = [s["puid"] for s in body["statements"] + second["statements"]]
    assert puids == [dsa.puid_for(d) for d in sorted(decisions, key=lambda d: d.pk)]
    for s in body["statements"][:5]:
        _valid(s)


def test_the_api_hides_other_clients_systems(client: Any) -> None:
    decisions = _content_decisions(1)
    _other, key = apikeys.api_client_create(name="someone else", systems=[], actor=ADMIN)
    response = client.get(URL, {"system": decisions[0].system.slug}, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")
    assert (
        client.get(URL, {"system": "does-not-exist"}, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 404
    )


def test_the_api_refuses_non_content_systems_and_a_missing_system(client: Any) -> None:
    decision, _ = make_decision(domain="credit")
    _c, key = apikeys.api_client_create(name="bank", systems=[decision.system], actor=ADMIN)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    refused = client.get(URL, {"system": decision.system.slug}, **auth)
    assert refused.status_code == 422
    assert refused.json()["code"] == "dsa-not-content-system"
    assert client.get(URL, **auth).status_code in (400, 422)


def test_the_api_needs_a_key(client: Any) -> None:
    decisions = _content_decisions(1)
    assert client.get(URL, {"system": decisions[0].system.slug}).status_code in (401, 403)
