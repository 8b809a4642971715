"""``manage.py check --tag safeguards``: one clear message per problem of a deciding system, none for a good
one, and nothing at all unless the tag is asked for."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core import checks as django_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from appeals import services as appeal_services
from appeals.models import QueueMembership
from core import clock
from decisions.models import DecisionSystem, Domain, ImpactLevel
from decisions.notices import TemplateReadability
from oversight import checks
from tests.factories import live_system, reviewer
from tests.oversight.controls import user_in

CONTENT_ROUTES = [
    {"kind": "odr", "name": "Appeals Centre Europe", "url": "https://odr.example"},
    {"kind": "court", "name": "District Court", "url": ""},
]


def ids(system: DecisionSystem | None = None) -> list[str]:
    """The ids of the messages about ``system`` (every message when None)."""
    return sorted(
        str(m.id) for m in checks.run_safeguard_checks() if system is None or m.obj == system or m.obj is None
    )


@pytest.fixture
def credit(db: Any) -> DecisionSystem:
    system, _ = live_system(domain=Domain.CREDIT)
    return system


@pytest.fixture
def content(db: Any) -> DecisionSystem:
    system, _ = live_system(domain=Domain.CONTENT_MODERATION, external_routes=CONTENT_ROUTES)
    return system


def update(system: DecisionSystem, **fields: Any) -> DecisionSystem:
    DecisionSystem.objects.filter(pk=system.pk).update(**fields)
    system.refresh_from_db()
    return system


def test_good_systems_pass_with_no_message_at_all(credit: DecisionSystem, content: DecisionSystem) -> None:
    assert checks.run_safeguard_checks() == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"owner_organisation": ""}, ["safeguards.E001"]),
        ({"purpose": "", "legal_basis": " "}, ["safeguards.E001", "safeguards.E001"]),
        ({"public_explanation": ""}, ["safeguards.E001"]),
        ({"review_contact_name": ""}, ["safeguards.E002"]),
        ({"review_contact_email": "", "review_contact_phone": ""}, ["safeguards.E002"]),
        ({"impact_level": ImpactLevel.I}, ["safeguards.E004"]),
        ({"appeal_window_days": 0}, ["safeguards.E006"]),
        ({"external_routes": []}, ["safeguards.E009"]),
        ({"stop_switch_overturn_rate": Decimal("0")}, ["safeguards.E011"]),
        ({"stop_switch_overturn_rate": Decimal("1")}, ["safeguards.E011"]),
        ({"stop_switch_min_sample": 0}, ["safeguards.E012"]),
        ({"retention_days": 700}, ["safeguards.E013"]),  # credit: 25 months (Reg. B)
    ],
)
def test_each_misconfiguration_of_a_credit_system_gives_its_own_error(
    credit: DecisionSystem, fields: dict[str, Any], expected: list[str]
) -> None:
    update(credit, **fields)
    assert ids(credit) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"appeal_window_days": 183}, ["safeguards.E006"]),  # DSA Art. 20(1): six months, 184 days
        ({"external_routes": CONTENT_ROUTES[1:]}, ["safeguards.E010"]),  # no out-of-court body
        ({"external_routes": CONTENT_ROUTES[:1]}, ["safeguards.E010"]),  # no court
        ({"retention_days": 183}, ["safeguards.E013"]),
    ],
)
def test_each_misconfiguration_of_a_content_system_gives_its_own_error(
    content: DecisionSystem, fields: dict[str, Any], expected: list[str]
) -> None:
    update(content, **fields)
    assert ids(content) == expected


def test_the_content_rules_are_met_at_exactly_six_months(content: DecisionSystem) -> None:
    update(content, appeal_window_days=184, retention_days=184)
    assert ids(content) == []


def test_a_missing_assessment_or_peer_review_is_an_error(credit: DecisionSystem) -> None:
    credit.peer_reviews.all().delete()
    assert ids(credit) == ["safeguards.E005"]
    credit.assessments.all().delete()
    assert ids(credit) == ["safeguards.E003", "safeguards.E005"]


def test_a_high_impact_system_needs_a_trained_reviewer_in_its_queue(db: Any) -> None:
    system, _ = live_system(impact_level=ImpactLevel.III)
    assert ids(system) == ["safeguards.E014"]
    queue = appeal_services.queue_for_system(system)
    trained, untrained = reviewer(), reviewer()
    supervisor = user_in("senior reviewer")
    appeal_services.reviewer_training_record(
        user=trained, course="Benefits review", completed_on=date(2026, 1, 5), actor=supervisor
    )
    QueueMembership.objects.create(queue=queue, user=untrained, added_at=clock.now())
    assert ids(system) == ["safeguards.E014"]  # in the queue but untrained; trained but not in the queue
    QueueMembership.objects.create(queue=queue, user=trained, added_at=clock.now())
    assert ids(system) == []


def test_expired_training_does_not_count(db: Any) -> None:
    system, _ = live_system(impact_level=ImpactLevel.IV)
    queue = appeal_services.queue_for_system(system)
    r = reviewer()
    QueueMembership.objects.create(queue=queue, user=r, added_at=clock.now())
    appeal_services.reviewer_training_record(
        user=r,
        course="Old course",
        completed_on=date(2020, 1, 5),
        expires_on=date(2021, 1, 5),
        actor=user_in("admin"),
    )
    assert ids(system) == ["safeguards.E014"]


def test_draft_systems_are_not_checked_but_suspended_ones_are(credit: DecisionSystem) -> None:
    update(credit, status=DecisionSystem.Status.DRAFT, owner_organisation="")
    assert ids() == []
    update(credit, status=DecisionSystem.Status.SUSPENDED)
    assert ids() == ["safeguards.E001"]


def test_a_shipped_language_without_templates_and_phrases_is_an_error(
    credit: DecisionSystem, settings: Any
) -> None:
    settings.LANGUAGES = [("en", "English"), ("es", "Español"), ("fr", "Français")]
    messages = checks.run_safeguard_checks()
    by_id = {str(m.id) for m in messages}
    assert {"safeguards.E007", "safeguards.E008"} <= by_id
    e007 = [m for m in messages if m.id == "safeguards.E007"]
    assert {m.obj for m in e007} == {credit}
    assert all("'fr'" in m.msg for m in e007)


def test_fewer_than_two_shipped_languages_is_an_error(credit: DecisionSystem, settings: Any) -> None:
    settings.LANGUAGES = [("en", "English")]
    assert ids() == ["safeguards.E008"]


def test_a_template_that_drops_an_element_is_an_error_in_that_language(
    credit: DecisionSystem, settings: Any, tmp_path: Path
) -> None:
    override = tmp_path / "decisions" / "notices" / "credit"
    override.mkdir(parents=True)
    # A Spanish text body that says only the decision: every other element is missing from it.
    (override / "decision.es.txt").write_text("{{ e.decision.outcome }}. {{ e.decision.effect }}\n")
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]},
        *settings.TEMPLATES[1:],
    ]
    (message,) = checks.run_safeguard_checks()
    assert message.id == "safeguards.E007" and message.obj == credit
    assert "credit/decision" in message.msg and "'es'" in message.msg and "reasons" in message.msg


def test_a_notice_that_reads_above_grade_eight_gives_a_warning(
    credit: DecisionSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    hard = TemplateReadability("credit/decision@1", "en", 11.2, {"fk": 11.2}, 400, "reading grade 11.2")
    easy = TemplateReadability("credit/decision@1", "es", 6.0, {}, 400, "")
    monkeypatch.setattr(checks, "_readability_report", lambda: [hard, easy])
    (message,) = checks.run_safeguard_checks()
    assert isinstance(message, django_checks.Warning)
    assert message.id == "safeguards.W001" and "11.2" in message.msg and "(S14)" in str(message.hint)


def test_every_message_names_the_system_and_the_safeguard(credit: DecisionSystem) -> None:
    update(credit, stop_switch_min_sample=0, retention_days=10)
    messages = checks.run_safeguard_checks()
    assert [m.id for m in messages] == ["safeguards.E012", "safeguards.E013"]
    assert all(m.is_serious() for m in messages)
    assert all(credit.slug in m.msg for m in messages)
    assert [str(m.hint)[-5:] for m in messages] == ["(S29)", "(S28)"]


# ------------------------------------------------------------------------------------------ the command


def test_the_command_with_the_tag_fails_with_one_line_per_problem(credit: DecisionSystem) -> None:
    update(credit, stop_switch_overturn_rate=Decimal("0"), retention_days=10)
    with pytest.raises(SystemCheckError) as exc:
        call_command("check", "--tag", "safeguards")
    text = str(exc.value)
    assert "(safeguards.E011)" in text and "(safeguards.E013)" in text
    assert "HINT: Set stop_switch_overturn_rate, e.g. 0.25. (S29)" in text
    assert "2 issues" in text


def test_the_command_passes_for_good_systems(
    credit: DecisionSystem, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("check", "--tag", "safeguards")
    assert "no issues" in capsys.readouterr().out


def test_without_the_tag_the_safeguards_checks_stay_silent(credit: DecisionSystem) -> None:
    update(credit, stop_switch_overturn_rate=Decimal("0"), owner_organisation="")
    # What runserver, migrate and a plain check run: the registered function, not asked for the tag.
    assert checks.safeguards_check in django_checks.registry.registry.get_checks()
    assert checks.safeguards_check() == []
    assert django_checks.run_checks(tags=[checks.TAG]) == []
    assert checks.TAG in django_checks.registry.registry.tags_available()
    with checks.requested():
        assert {str(m.id) for m in django_checks.run_checks(tags=[checks.TAG])} == {
            "safeguards.E001",
            "safeguards.E011",
        }
