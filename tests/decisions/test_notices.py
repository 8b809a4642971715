"""Decision notices: templates per domain and language, the completeness gate (S13), the score disclosure
(S10), the notice clock (S12), readability (S14) and the person's way in."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from core.actors import SYSTEM
from core.models import AuditEvent
from decisions import access
from decisions.notices import (
    TEMPLATES,
    NoticeIncomplete,
    RenderedNotice,
    decision_notice_render,
    decision_notices_compose,
    missing_elements,
    render_notice,
    required_elements,
    specimen_elements,
    template_fingerprint,
    template_readability_report,
    uncovered_elements,
    way_in_for,
)
from decisions.readability import WARN_ABOVE_GRADE
from notifications.models import Notice
from tests.decisions.builders import ROUTES, make_decision, make_system

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------- the gate

_CASES = [(key, name) for key, t in sorted(TEMPLATES.items()) for name in required_elements(key, None)]


@pytest.mark.parametrize(("template_key", "element"), _CASES, ids=[f"{k}:{e}" for k, e in _CASES])
def test_the_gate_refuses_a_notice_missing_any_required_element(template_key: str, element: str) -> None:
    elements, info = specimen_elements(template_key, "en")
    assert missing_elements(elements, template_key) == []
    del elements[element]
    with pytest.raises(NoticeIncomplete) as caught:
        render_notice(template_key, "en", elements, info)
    assert caught.value.missing == [element]
    assert caught.value.status == 422
    assert {e["field"] for e in caught.value.errors} == {element}


_SCORE = {"score": "540", "low": "300", "high": "850", "factors": ["x"], "date": "d", "producer": "p"}


@pytest.mark.parametrize(
    ("element", "bad_value"),
    [
        ("decision", {"outcome": "Refused", "effect": ""}),
        ("reasons", []),
        ("reasons", ["a", "b", "c", "d", "e"]),
        ("legal_ground", "   "),
        ("appeal_how", {"link": "https://x.example/", "portal": "https://x.example/", "reference": "R"}),
        ("appeal_deadline", "1 September 2027"),
        ("appeal_deadline", dt.datetime(2027, 9, 1, tzinfo=dt.UTC)),
        ("human_contact", {"name": "Review team", "email": "", "phone": ""}),
        ("external_routes", []),
        ("data_sources", [{"label": "Income", "value": "1", "source": "", "as_of": ""}]),
        ("score_disclosure", {**_SCORE, "low": ""}),
        ("score_disclosure", {**_SCORE, "factors": []}),
        ("score_disclosure", {**_SCORE, "factors": ["a", "b", "c", "d", "e"]}),
    ],
)  # fmt: skip
def test_the_gate_checks_what_an_element_holds_not_only_that_it_is_there(
    element: str, bad_value: object
) -> None:
    elements, _ = specimen_elements("credit/decision", "en")
    elements[element] = bad_value
    assert missing_elements(elements, "credit/decision") == [element]


def test_a_content_notice_must_name_an_out_of_court_body_and_a_court() -> None:
    elements, _ = specimen_elements("content_moderation/decision", "en")
    elements["external_routes"] = [r for r in elements["external_routes"] if r["kind"] == "ombudsman"]
    assert missing_elements(elements, "content_moderation/decision") == [
        "external_routes.out_of_court_body",
        "external_routes.court",
    ]
    # A favourable content decision restricts nothing: any external route will do.
    favourable, _ = specimen_elements("generic/favourable", "en")
    favourable["_facts"]["domain"] = "content_moderation"
    favourable["external_routes"] = elements["external_routes"]
    assert missing_elements(favourable, "generic/favourable") == []


def test_the_score_disclosure_is_required_only_when_a_score_was_used() -> None:
    elements, _ = specimen_elements("credit/decision", "en")
    elements["_facts"]["score_used"] = False
    del elements["score_disclosure"]
    assert missing_elements(elements, "credit/decision") == []


def test_aid_paid_pending_is_required_where_the_system_stays_effects() -> None:
    elements, _ = specimen_elements("public_benefits/decision", "en")
    del elements["aid_paid_pending"]
    assert missing_elements(elements, "public_benefits/decision") == ["aid_paid_pending"]
    elements["_facts"]["stays_effect"] = False
    assert missing_elements(elements, "public_benefits/decision") == []


def test_a_template_that_drops_an_element_is_caught_by_the_coverage_check() -> None:
    elements, info = specimen_elements("generic/decision", "en")
    good = render_notice("generic/decision", "en", elements, info)
    assert uncovered_elements(good, elements) == []
    dropped = RenderedNotice(
        good.template_key,
        good.template_version,
        "en",
        good.subject,
        good.body_text.replace(elements["appeal_free"], ""),
        good.body_html,
    )
    assert uncovered_elements(dropped, elements) == ["appeal_free"]


# ------------------------------------------------------------------------------------ rendering records


@pytest.mark.parametrize("domain", ["credit", "public_benefits", "content_moderation", "employment"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_every_domain_renders_a_complete_notice_in_each_language(domain: str, language: str) -> None:
    decision, code = make_decision(domain=domain, language=language)
    rendered = decision_notice_render(decision, language, way_in_for(decision, code))
    expected = {"employment": "generic/decision"}.get(domain, f"{domain}/decision")
    assert rendered.template_key == expected
    assert rendered.language == language
    assert decision.public_reference in rendered.subject
    assert code in rendered.body_text and code in rendered.body_html
    assert "/portal/open/" in rendered.body_text
    # The deadline is a date: decided 4 March 2027 (Brussels) + 184 days.
    deadline = {"en": "4 September 2027", "es": "4 de septiembre de 2027"}[language]
    assert deadline in rendered.body_text
    assert "<h2>" in rendered.body_html


def test_a_spanish_notice_is_written_in_spanish() -> None:
    decision, code = make_decision(domain="public_benefits", language="es")
    rendered = decision_notice_render(decision, "es", way_in_for(decision, code))
    text = rendered.body_text
    assert rendered.subject.startswith("Su ayuda: nuestra decisión")
    for phrase in (
        "QUÉ DECIDIMOS",
        "Ayuda suspendida",
        "Los ingresos de su hogar superan el límite de esta ayuda.",
        "Tiene hasta el 4 de septiembre de 2027 (incluido) para apelar.",
        "Apelar es gratis.",
        "Tiene derecho a una audiencia.",
        "seguirá cobrando su ayuda",
        "Defensor del Pueblo: Financial Ombudsman Service",
    ):
        assert phrase in text
    for english in ("WHAT WE DECIDED", "Appealing is free", "hearing"):
        assert english not in text
    assert '<html lang="es">' in rendered.body_html


def test_a_credit_notice_discloses_the_score() -> None:
    decision, code = make_decision(domain="credit", language="en", score=Decimal("540.00"))
    text = decision_notice_render(decision, "en", way_in_for(decision, code)).body_text
    block = text.split("YOUR CREDIT SCORE")[1].split("YOUR CREDIT REPORT")[0]
    assert "Your score: 540" in block
    assert "Scores go from 300 to 850." in block
    assert "- You missed some payments in the last 12 months." in block
    assert "Date of the score: 4 March 2027" in block
    assert "Score made by: Example Institution (Credit limit, v1)" in block
    # The consumer-report block names the bureau the data came from; the equal-credit notice is there.
    assert "We used a report from Example Credit Bureau." in text
    assert "must not treat you unfairly" in text
    assert "Consumer Finance Authority" in text


def test_a_credit_notice_without_a_score_has_no_score_block() -> None:
    decision, code = make_decision(domain="credit", score=None)
    text = decision_notice_render(decision, "en", way_in_for(decision, code)).body_text
    assert "YOUR CREDIT SCORE" not in text
    assert "YOUR CREDIT REPORT" in text


def test_a_content_notice_is_a_statement_of_reasons_with_automation_and_redress() -> None:
    decision, code = make_decision(domain="content_moderation", automation="full")
    text = decision_notice_render(decision, "en", way_in_for(decision, code)).body_text
    assert "This is our statement of reasons." in text
    assert "A computer system found the case. A computer system made this decision." in text
    assert "Out-of-court dispute body: Appeals Centre Europe" in text
    assert "Court: District Court of Brussels" in text


def test_the_benefits_notice_says_payments_go_on_only_where_the_system_stays_effects() -> None:
    system = make_system("public_benefits", stay_on_appeal=False)
    decision, code = make_decision(system)
    text = decision_notice_render(decision, "en", way_in_for(decision, code)).body_text
    assert "payments will go on" not in text
    assert "This decision still applies while we look at your appeal." in text


def test_a_favourable_decision_gets_the_simpler_notice() -> None:
    decision, code = make_decision(adverse=False)
    rendered = decision_notice_render(decision, "en", way_in_for(decision, code))
    assert rendered.template_key == "generic/favourable"
    assert "Credit limit approved" in rendered.body_text
    assert "IF YOU DISAGREE" in rendered.body_text
    assert "WHY WE DECIDED THIS" not in rendered.body_text


def test_rendering_a_notice_twice_gives_the_same_text() -> None:
    decision, code = make_decision(language="es")
    way_in = way_in_for(decision, code)
    assert decision_notice_render(decision, "es", way_in) == decision_notice_render(decision, "es", way_in)


def test_the_html_body_escapes_what_the_integrator_sent() -> None:
    system = make_system("credit", legal_basis="Contract <script>alert(1)</script> & terms")
    decision, code = make_decision(system)
    rendered = decision_notice_render(decision, "en", way_in_for(decision, code))
    assert "<script>" not in rendered.body_html
    assert "&lt;script&gt;" in rendered.body_html
    assert "Contract <script>alert(1)</script> & terms" in rendered.body_text


# -------------------------------------------------------------------------------------------- composing


def test_composing_writes_an_email_and_a_portal_notice_due_by_the_notice_clock() -> None:
    system = make_system("credit", notice_due_days=30)
    decision, code = make_decision(system, language="es")
    with transaction.atomic():
        created = decision_notices_compose(
            decisions=[decision], access_codes={decision.pk: code}, actor=SYSTEM
        )
    assert {n.channel for n in created} == {"email", "portal"}
    for n in Notice.objects.filter(topic_id=str(decision.pk)):
        assert n.kind == "decision"
        assert n.topic_type == "decisions.decision"
        assert n.recipient == decision.subject.pseudonym
        assert n.language == "es"
        assert n.template_key == "credit/decision"
        assert n.template_version == str(TEMPLATES["credit/decision"].version)
        assert n.due_at == decision.recorded_at + dt.timedelta(days=30)
        assert code in n.body_text
    email = Notice.objects.get(topic_id=str(decision.pk), channel="email")
    assert email.to_address == "ana.garcia@mail.example"
    assert Notice.objects.get(topic_id=str(decision.pk), channel="portal").to_address == ""


def test_composing_without_an_email_address_writes_the_portal_notice_only() -> None:
    decision, code = make_decision(email="")
    decision_notices_compose(decisions=[decision], access_codes={decision.pk: code}, actor=SYSTEM)
    assert list(Notice.objects.filter(topic_id=str(decision.pk)).values_list("channel", flat=True)) == [
        "portal"
    ]


def test_composing_twice_does_not_write_the_notice_twice() -> None:
    decision, code = make_decision()
    for _ in range(2):
        decision_notices_compose(decisions=[decision], access_codes={decision.pk: code}, actor=SYSTEM)
    assert Notice.objects.filter(topic_id=str(decision.pk)).count() == 2


def test_the_link_in_the_notice_opens_that_decision() -> None:
    decision, code = make_decision()
    decision_notices_compose(decisions=[decision], access_codes={decision.pk: code}, actor=SYSTEM)
    body = Notice.objects.get(topic_id=str(decision.pk), channel="email").body_text
    token = re.search(r"/portal/open/(\S+)", body).group(1)  # type: ignore[union-attr]
    assert access.read_decision_token(token) == decision.pk
    assert access.access_code_matches(decision.access_code_hash, decision.public_reference, code)


def test_an_incomplete_notice_is_not_sent_and_the_decision_is_flagged() -> None:
    system = make_system("credit", external_routes=[], legal_basis="")
    decision, code = make_decision(system)
    good, good_code = make_decision()
    created = decision_notices_compose(
        decisions=[decision, good], access_codes={decision.pk: code, good.pk: good_code}, actor=SYSTEM
    )
    assert {n.topic_id for n in created} == {str(good.pk)}
    assert not Notice.objects.filter(topic_id=str(decision.pk)).exists()
    event = AuditEvent.objects.get(action="decision.notice_blocked", target_id=str(decision.pk))
    assert event.data["missing"] == ["legal_ground", "external_routes"]
    assert event.data["subject"] == decision.subject.pseudonym
    assert "ana" not in str(event.data).lower()
    decision.refresh_from_db()
    assert decision.status == "pending_notice"


def test_a_notice_without_the_access_code_is_refused() -> None:
    decision, _code = make_decision()
    decision_notices_compose(decisions=[decision], access_codes={}, actor=SYSTEM)
    assert not Notice.objects.filter(topic_id=str(decision.pk)).exists()
    event = AuditEvent.objects.get(action="decision.notice_blocked", target_id=str(decision.pk))
    assert event.data["missing"] == ["appeal_how"]


def test_composing_a_batch_takes_a_fixed_number_of_queries(django_assert_max_num_queries: Any) -> None:
    system = make_system("credit")
    batch = [make_decision(system) for _ in range(40)]
    codes = {d.pk: c for d, c in batch}
    with django_assert_max_num_queries(20):
        created = decision_notices_compose(decisions=[d for d, _ in batch], access_codes=codes, actor=SYSTEM)
    assert len(created) == 80


# ------------------------------------------------------------------------------- readability, versions


def test_every_template_reads_at_grade_eight_or_below_in_both_languages() -> None:
    report = template_readability_report()
    assert {(r.template.split("@")[0], r.language) for r in report} == {
        (key, lang) for key in TEMPLATES for lang in ("en", "es")
    }
    for r in report:
        assert r.grade <= WARN_ABOVE_GRADE, (r.template, r.language, r.grade)
        assert r.warning == ""
        assert r.words > 150


@pytest.mark.parametrize("template_key", sorted(TEMPLATES))
def test_every_template_change_bumps_its_version(template_key: str) -> None:
    """Each notice stores its template version; a version must always stand for the same wording."""
    assert TEMPLATES[template_key].fingerprint == template_fingerprint(template_key), (
        f"{template_key} changed: bump its version and record the new fingerprint"
    )


# ------------------------------------------------------------------------------------------- staff page


def test_staff_see_blocked_decisions_late_notices_and_template_readability(client: Any) -> None:
    from django.utils import timezone

    from core.models import User

    blocked_system = make_system("credit", external_routes=[])
    blocked, blocked_code = make_decision(blocked_system)
    late, late_code = make_decision()
    decision_notices_compose(
        decisions=[blocked, late], access_codes={blocked.pk: blocked_code, late.pk: late_code}, actor=SYSTEM
    )
    Notice.objects.filter(topic_id=str(late.pk)).update(due_at=timezone.now() - dt.timedelta(days=1))
    staff = User.objects.create_user("clerk", password="x", is_staff=True)
    url = "/staff/notices/overdue/"
    assert client.get(url).status_code == 302  # login first
    client.force_login(staff)
    page = client.get(url).content.decode()
    blocked_section = page.split('id="blocked"')[1].split('id="overdue"')[0]
    assert blocked.public_reference in blocked_section
    assert "external_routes" in blocked_section
    assert late.public_reference not in blocked_section
    overdue_section = page.split('id="overdue"')[1].split('id="readability"')[0]
    assert overdue_section.count(late.subject.pseudonym) == 2  # email and portal
    assert "credit/decision@1" in page.split('id="readability"')[1]


def test_people_without_a_staff_role_cannot_see_the_staff_page(client: Any) -> None:
    from core.models import User

    client.force_login(User.objects.create_user("someone", password="x"))
    assert client.get("/staff/notices/overdue/").status_code == 403


# ------------------------------------------------------------------------------ through the recording


@pytest.mark.parametrize("domain", ["credit", "public_benefits", "content_moderation", "employment"])
def test_recording_decisions_writes_complete_notices_in_the_same_transaction(domain: str) -> None:
    from decisions.services import decision_record_many
    from tests.factories import decision_payload, live_system

    system, version = live_system(domain=domain, external_routes=ROUTES)
    items = [decision_payload(system, version), decision_payload(system, version, adverse=False)]
    items[0]["subject"]["language"] = "es"
    results = decision_record_many(items=items, actor=SYSTEM)
    assert all(r.error is None for r in results), [r.error for r in results]
    assert not AuditEvent.objects.filter(action="decision.notice_blocked").exists(), list(
        AuditEvent.objects.filter(action="decision.notice_blocked").values_list("data", flat=True)
    )
    for result, language in zip(results, ["es", "en"], strict=True):
        decision = result.decision
        assert decision is not None
        notices = list(Notice.objects.filter(topic_id=str(decision.pk)))
        assert {n.channel for n in notices} == {"email", "portal"}
        for n in notices:
            assert n.language == language
            assert result.access_code and result.access_code in n.body_text
        assert access.access_code_matches(
            decision.access_code_hash, decision.public_reference, result.access_code or ""
        )


def test_staff_compose_a_refused_notice_again_once_the_cause_is_fixed(client: Any) -> None:
    from core.models import User

    system = make_system("credit", external_routes=[])
    decision, code = make_decision(system)
    decision_notices_compose(decisions=[decision], access_codes={decision.pk: code}, actor=SYSTEM)
    assert not Notice.objects.filter(topic_id=str(decision.pk)).exists()
    client.force_login(User.objects.create_user("clerk", password="x", is_staff=True))
    url = f"/staff/notices/{decision.pk}/compose/"

    client.post(url)  # still no external route: refused again
    assert (
        AuditEvent.objects.filter(action="decision.notice_blocked", target_id=str(decision.pk)).count() == 2
    )
    assert not Notice.objects.filter(topic_id=str(decision.pk)).exists()

    system.external_routes = ROUTES
    system.save()
    response = client.post(url)
    assert response.status_code == 302
    notices = Notice.objects.filter(topic_id=str(decision.pk))
    assert {n.channel for n in notices} == {"email", "portal"}
    decision.refresh_from_db()
    new_code = re.search(r"your code: (\S+)", notices[0].body_text).group(1)  # type: ignore[union-attr]
    assert new_code != code
    assert access.access_code_matches(decision.access_code_hash, decision.public_reference, new_code)
    reissued = AuditEvent.objects.filter(action="decision.access_code_reissued", target_id=str(decision.pk))
    assert [e.actor_type for e in reissued] == ["user", "user"]  # one per attempt
    # A decision that has its notice is not composed twice.
    client.post(url)
    assert Notice.objects.filter(topic_id=str(decision.pk)).count() == 2
    assert (
        decision.public_reference
        not in client.get("/staff/notices/overdue/")
        .content.decode()
        .split('id="blocked"')[1]
        .split('id="overdue"')[0]
    )


def test_a_favourable_decision_whose_notice_was_refused_is_listed_for_staff() -> None:
    from decisions.notices import decisions_without_notice

    system = make_system("credit", legal_basis="")
    decision, code = make_decision(system, adverse=False)
    decision_notices_compose(decisions=[decision], access_codes={decision.pk: code}, actor=SYSTEM)
    [listed] = [b for b in decisions_without_notice() if b.decision.pk == decision.pk]
    assert listed.missing == ["legal_ground"]
