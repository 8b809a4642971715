"""``manage.py seed_demo``: the demo house, built through the services, idempotently."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db.models import Count

from core.models import ApiClient, AuditEvent, User
from decisions import demo
from decisions.models import Decision, DecisionSystem, Subject, SubjectContact
from decisions.scorecards import evaluate

pytestmark = pytest.mark.django_db

SCALE = "0.1"  # 30 credit, 20 benefits, 25 content decisions
EXPECTED = {"credit-limit": 30, "benefit-eligibility": 20, "content-moderation": 25}


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def decisions_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the decisions' part of the demo. The steps that higher floors register
    (appeals, oversight) run after it and are tested with it in tests/test_demo.py."""
    monkeypatch.setattr(demo, "_STEPS", {})


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--scale", SCALE, stdout=out, stderr=StringIO())
    return out.getvalue()


def snapshot() -> dict[str, Any]:
    return {
        "decisions": set(
            Decision.objects.values_list("system__slug", "external_id", "public_reference", "outcome__code")
        ),
        "subjects": set(Subject.objects.values_list("system__slug", "external_ref", "pseudonym")),
        "systems": set(DecisionSystem.objects.values_list("slug", "status")),
        "users": set(User.objects.values_list("username", "staff_ref")),
        "clients": set(ApiClient.objects.values_list("name", flat=True)),
        "counts": {
            model.__name__: model.objects.count()
            for model in (Decision, Subject, SubjectContact, DecisionSystem, User, Group, ApiClient)
        },
        "audit": dict(
            AuditEvent.objects.values_list("action").annotate(n=Count("id")).values_list("action", "n")
        ),
    }


def test_running_the_demo_twice_gives_the_same_data() -> None:
    first_out = seed()
    first = snapshot()
    second_out = seed()
    second = snapshot()

    assert first == second
    per_system = {slug: 0 for slug in EXPECTED}
    for slug, *_rest in first["decisions"]:
        per_system[slug] += 1
    assert per_system == EXPECTED
    # Every step wrote its audit event once, and the second run none.
    assert first["audit"]["system.went_live"] == 3
    assert first["audit"]["decision.recorded"] == sum(EXPECTED.values())
    assert first["audit"]["user.created"] == 4
    # The API keys are shown once, when made; the logins every time.
    assert first_out.count("ctb_") == 3
    assert "ctb_" not in second_out
    for out in (first_out, second_out):
        assert "admin / admin-demo-pass" in out and "reviewer / reviewer-demo-pass" in out
        assert "senior / senior-demo-pass" in out and "auditor / auditor-demo-pass" in out


def test_a_larger_scale_later_adds_the_missing_decisions_and_keeps_the_first_ones() -> None:
    seed()
    before = set(Decision.objects.values_list("external_id", "public_reference", "outcome__code"))
    call_command("seed_demo", "--scale", "0.2", stdout=StringIO(), stderr=StringIO())
    after = set(Decision.objects.values_list("external_id", "public_reference", "outcome__code"))
    assert before < after
    assert Decision.objects.count() == 2 * sum(EXPECTED.values())


def test_the_three_demo_systems_are_live_with_what_going_live_needs() -> None:
    seed()
    systems = {s.slug: s for s in DecisionSystem.objects.all()}
    assert set(systems) == set(EXPECTED)
    for slug, system in systems.items():
        assert system.status == DecisionSystem.Status.LIVE, slug
        assert system.assessments.get().level == system.impact_level
        assert system.peer_reviews.count() >= 1
        assert {r["kind"] for r in system.external_routes} == {"ombudsman", "odr", "court"}
        version = system.versions.get()
        assert version.scorecard is not None
        assert set(version.logic) == set(version.performance) == set(version.fairness) == {"en", "es"}
        for rc in version.reason_codes.all():
            assert rc.text["en"] and rc.text["es"], rc.code
        assert system.api_clients.filter(name=f"Demo integrator ({slug})").exists()
    assert systems["credit-limit"].domain == "credit"
    assert systems["benefit-eligibility"].impact_level == 3
    assert (
        systems["benefit-eligibility"].stay_on_appeal and systems["benefit-eligibility"].oral_hearing_allowed
    )
    assert systems["content-moderation"].appeal_window_days == 184


def test_demo_decisions_span_outcomes_and_adverse_ones_give_one_to_four_reasons() -> None:
    seed()
    for slug in EXPECTED:
        decisions = Decision.objects.filter(system__slug=slug)
        assert decisions.filter(adverse=True).exists(), slug
        assert decisions.filter(adverse=False).exists(), slug
        assert decisions.values("outcome__code").distinct().count() >= 3, slug
    for d in Decision.objects.filter(adverse=True).annotate(n=Count("reasons")):
        assert 1 <= d.n <= 4, d.external_id
    # Favourable decisions carry no reasons (S6 asks them of adverse decisions).
    assert not Decision.objects.filter(adverse=False, reasons__isnull=False).exists()
    # Automation flags vary in the content system (S7), and the level III system has both approved
    # adverse decisions and ones waiting for a person (S2).
    content = Decision.objects.filter(system__slug="content-moderation")
    assert content.values("automation").distinct().count() >= 2
    benefits = Decision.objects.filter(system__slug="benefit-eligibility", adverse=True)
    assert benefits.filter(status=Decision.Status.AWAITING_HUMAN).exists()
    assert benefits.exclude(status=Decision.Status.AWAITING_HUMAN).exists()


def test_demo_scores_reasons_and_counterfactuals_are_the_scorecards_own() -> None:
    seed()
    for d in Decision.objects.select_related("version", "outcome").prefetch_related(
        "inputs__feature", "reasons"
    ):
        inputs = {i.feature.name: i.value for i in d.inputs.all()}
        assert d.version.scorecard is not None
        result = evaluate(d.version.scorecard, inputs)  # S9: reproduced from the stored record
        assert result.score == d.score
        assert result.outcome_code == d.outcome.code
        if d.adverse:
            got = [(r.reason_code.code, r.weight) for r in d.reasons.select_related("reason_code")]
            assert got == [(r.code, r.weight) for r in result.reasons]
            assert [c["feature"] for c in d.counterfactuals] == [c.feature for c in result.counterfactual]


def test_demo_people_are_invented_at_example_org_and_some_speak_spanish() -> None:
    seed()
    contacts = list(SubjectContact.objects.values_list("email", flat=True))
    assert contacts and all(email.endswith("@example.org") for email in contacts)
    languages = set(Subject.objects.values_list("language", flat=True))
    assert languages == {"en", "es"}


def test_demo_staff_have_their_groups_and_the_admin_is_a_superuser() -> None:
    seed()
    assert set(Group.objects.values_list("name", flat=True)) >= set(demo.GROUPS)
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("admin-demo-pass")
    reviewer = User.objects.get(username="reviewer")
    assert list(reviewer.groups.values_list("name", flat=True)) == ["reviewer"]
    assert not reviewer.is_superuser and reviewer.check_password("reviewer-demo-pass")
    assert User.objects.get(username="senior").groups.filter(name="senior reviewer").exists()
    assert User.objects.get(username="auditor").groups.filter(name="auditor").exists()
    event = AuditEvent.objects.get(action="user.created", target_id=str(admin.pk))
    assert event.data == {"username": "admin", "groups": ["admin"], "superuser": True}


def test_a_scale_outside_the_allowed_range_is_refused() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("seed_demo", "--scale", "0", stdout=StringIO())
    assert not DecisionSystem.objects.exists()
