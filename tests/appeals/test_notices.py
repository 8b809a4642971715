"""Appeal notices (S13, S14, S26): complete or not sent, in English and Spanish, readable, versioned."""

from __future__ import annotations

from dataclasses import replace

import pytest

from appeals import notices, services
from appeals.notices import TEMPLATES, render, specimen_elements, template_fingerprint
from core.models import AuditEvent
from decisions.notices import NoticeIncomplete
from notifications.models import Notice
from tests.appeals.conftest import World, notices_about

PAIRS = [(key, lang) for key in sorted(TEMPLATES) for lang in ("en", "es")]
REQUIRED = [(key, element) for key in sorted(TEMPLATES) for element in TEMPLATES[key].elements]


@pytest.mark.parametrize(("key", "lang"), PAIRS)
def test_every_template_renders_a_complete_notice_in_each_language(key: str, lang: str) -> None:
    rendered = render(key, lang, specimen_elements(key, lang))
    assert rendered.language == lang and rendered.template_key == key
    assert "APL-7K3M-Q9XP" in rendered.subject
    for text in ("Review team", "review@bank.example", "https://contestable.example/portal/open/TOKEN"):
        assert text in rendered.body_text and text in rendered.body_html
    assert notices.uncovered_elements(rendered, specimen_elements(key, lang)) == []
    assert render(key, lang, specimen_elements(key, lang)) == rendered  # the same text every time


@pytest.mark.parametrize(("key", "element"), REQUIRED)
def test_the_gate_refuses_a_notice_missing_any_required_element(key: str, element: str) -> None:
    elements = specimen_elements(key, "en")
    elements.pop(element)
    with pytest.raises(NoticeIncomplete) as exc:
        render(key, "en", elements)
    assert element in exc.value.missing[0]


def test_the_gate_checks_what_an_element_holds() -> None:
    elements = specimen_elements("delay", "en")
    elements["new_date"] = "soon"  # a date, not words
    with pytest.raises(NoticeIncomplete) as exc:
        render("delay", "en", elements)
    assert exc.value.missing == ["new_date"]
    elements = specimen_elements("appeal_outcome", "en")
    elements["external_routes"] = []  # S26: the next external route is not optional
    with pytest.raises(NoticeIncomplete):
        render("appeal_outcome", "en", elements)


def test_a_template_that_drops_an_element_is_caught_by_the_coverage_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The delay template never shows a question: requiring one makes the coverage check fail.
    monkeypatch.setitem(
        TEMPLATES, "delay", replace(TEMPLATES["delay"], elements=(*TEMPLATES["delay"].elements, "question"))
    )
    with pytest.raises(NoticeIncomplete) as exc:
        render("delay", "en", specimen_elements("delay", "en"))
    assert exc.value.missing == ["question"]


def test_every_template_reads_at_grade_eight_or_below_in_both_languages() -> None:
    report = notices.template_readability_report()
    assert len(report) == len(PAIRS)
    assert [(r.template, r.language, r.grade) for r in report if r.grade > 8 or r.warning] == []


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_change_bumps_its_version(key: str) -> None:
    assert TEMPLATES[key].fingerprint == template_fingerprint(key), (
        f"{key} changed: bump its version and record the new fingerprint"
    )


def test_the_html_body_escapes_what_people_wrote() -> None:
    elements = specimen_elements("information_requested", "en")
    elements["question"] = "Is <script>alert(1)</script> your income?"
    rendered = render("information_requested", "en", elements)
    assert "<script>" not in rendered.body_html and "&lt;script&gt;" in rendered.body_html
    assert "<script>alert(1)</script>" in rendered.body_text  # plain text is plain


@pytest.mark.django_db
def test_a_notice_that_cannot_be_completed_is_not_sent_and_is_flagged(world: World) -> None:
    from decisions.models import DecisionSystem

    DecisionSystem.objects.filter(pk=world.system.pk).update(review_contact_email="", review_contact_phone="")
    a = world.appeal()
    assert notices_about(a, Notice.Kind.APPEAL_RECEIVED) == []
    (blocked,) = AuditEvent.objects.filter(action="appeal.notice_blocked", target_id=str(a.pk))
    assert blocked.data["missing"] == ["human_contact"] and blocked.data["template"] == "appeal_received@2"


@pytest.mark.django_db
def test_a_person_who_asked_for_the_portal_only_gets_no_email(world: World) -> None:
    a = world.appeal(contact_preference="portal")
    assert [n.channel for n in notices_about(a)] == ["portal"]
    assert services.Appeal.objects.get(pk=a.pk).contact_preference == "portal"


def test_specimens_exist_for_every_template() -> None:
    for key in TEMPLATES:
        assert notices.missing_elements(specimen_elements(key, "es"), key) == []
