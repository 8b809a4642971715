"""The decision page: what was decided and what it means, the reasons, the data used (each value with its
source and date and "this is wrong"), what would change the outcome, the deadline, the person's rights and
the routes outside, whether appealing puts it on hold, and a timeline with every notice sent, each one
readable in the portal inbox."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from decisions.explanations import format_date
from decisions.notices import appeal_deadline
from notifications.models import Notice
from tests.portal.conftest import Case, page, record_case, sign_in

pytestmark = pytest.mark.django_db

DECISION = "/portal/decision/"


@pytest.fixture
def html(client: Client, case: Case) -> str:
    sign_in(client, case.decision)
    return page(client.get(DECISION))


def test_it_says_what_was_decided_what_it_means_and_why(html: str) -> None:
    assert '<h1 class="heading-l">Declined</h1>' in html
    assert "Declined." in html  # the outcome's effect for the person
    assert "The main reasons" in html
    assert "Your income is low for this credit limit." in html
    assert "How the decision was made" in html


def test_each_value_used_has_its_source_date_and_a_this_is_wrong_link(html: str, case: Case) -> None:
    for inp in case.decision.inputs.select_related("feature"):
        name = inp.feature.name
        assert f'href="/portal/dispute/value/{name}/"' in html, name
    assert html.count(">This is wrong<") == case.decision.inputs.count()
    as_of = format_date(case.decision.inputs.first().as_of, "en")  # type: ignore[union-attr]
    assert f"From Application form, {as_of}" in html
    assert "<table" not in html  # a summary list that stacks on a phone, never a wide table


def test_it_gives_the_deadline_as_a_date_the_rights_and_the_routes_outside(html: str, case: Case) -> None:
    deadline = format_date(appeal_deadline(case.decision), "en")
    assert f"You can appeal until {deadline} (this day included)." in html
    assert 'href="/portal/appeal/"' in html
    assert 'href="/portal/dispute/start/"' in html
    assert 'href="/portal/explanation/start/"' in html
    assert 'href="/portal/case-file/"' in html
    assert 'Ombudsman: <a href="https://ombudsman.example"' in html
    assert "To ask a person to look at this decision, contact Review Team" in html


def test_it_says_whether_appealing_puts_the_decision_on_hold(client: Client) -> None:
    stays = record_case(stay_on_appeal=True)
    sign_in(client, stays.decision)
    assert "we will not apply this decision until a person has decided on your appeal" in page(
        client.get(DECISION)
    )
    applies = record_case(stay_on_appeal=False)
    other = Client()
    sign_in(other, applies.decision)
    assert "This decision still applies while we look at your appeal." in page(other.get(DECISION))


def test_the_timeline_shows_the_decision_and_every_notice_with_a_link_to_read_it(
    client: Client, html: str, case: Case
) -> None:
    notices = Notice.objects.filter(topic_id=str(case.decision.pk), channel="portal")
    assert notices.exists()
    timeline = html.split('id="timeline"')[1].split('id="inbox"')[0]
    assert "We made decision" in timeline
    for notice in notices:
        assert f"We sent you a message: “{notice.subject}”." in timeline
        assert f'href="/portal/messages/{notice.pk}/"' in timeline
        message = page(client.get(f"/portal/messages/{notice.pk}/"))
        assert notice.subject in message
        assert "Open this link" in message or "Abra este enlace" in message  # the body as sent


def test_a_notice_about_someone_else_cannot_be_read(client: Client, case: Case) -> None:
    other = record_case()
    theirs = Notice.objects.filter(topic_id=str(other.decision.pk), channel="portal").first()
    assert theirs is not None
    sign_in(client, case.decision)
    response = client.get(f"/portal/messages/{theirs.pk}/")
    assert response.status_code == 404
    assert "Page not found" in page(response)
    assert response["Content-Security-Policy"].startswith("default-src 'none'")


def test_a_decision_in_the_persons_favour_has_no_appeal_button(client: Client) -> None:
    favourable = record_case(adverse=False)
    sign_in(client, favourable.decision)
    html = page(client.get(DECISION))
    assert "This decision is in your favour." in html
    assert "Appeal this decision" not in html
    assert 'href="/portal/explanation/start/"' in html


def test_the_page_reads_in_order_with_one_main_heading_and_a_contents_list(html: str) -> None:
    assert html.count("<h1") == 1
    anchors = re.findall(r'<li><a href="#([a-z-]+)">', html.split('class="contents"')[1].split("</nav>")[0])
    assert anchors == ["reasons", "data", "change", "rights", "timeline", "inbox", "case-file"]
    for anchor in anchors:
        assert f'id="{anchor}"' in html


def test_a_notice_about_a_remedy_on_this_decision_is_in_the_inbox_and_the_timeline(
    client: Client, case: Case
) -> None:
    from django.apps import apps

    from core import clock
    from core.actors import SYSTEM
    from oversight.remedy import compose_remedy_notice

    campaign_model = apps.get_model("oversight", "RemedyCampaign")
    item_model = apps.get_model("oversight", "RemedyItem")
    reason = case.decision.reasons.first()
    assert reason is not None
    campaign = campaign_model.objects.create(
        reference="RMD-TEST-0001",
        system=case.decision.system,
        defect_kind="reason_code",
        reason_code=reason.reason_code,
        description="The reason code counted old debts twice.",
        opened_at=clock.now(),
    )
    item = item_model.objects.create(
        campaign=campaign, decision=case.decision, action="rescore", status="pending"
    )
    notices = compose_remedy_notice(item, "remedy_opened", actor=SYSTEM)
    portal_copy = next(n for n in notices if n.channel == "portal")
    sign_in(client, case.decision)
    html = page(client.get(DECISION))
    assert f'href="/portal/messages/{portal_copy.pk}/"' in html.split('id="timeline"')[1]
    assert portal_copy.subject in html.split('id="inbox"')[1]
    assert client.get(f"/portal/messages/{portal_copy.pk}/").status_code == 200
