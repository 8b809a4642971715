"""Staff pages of the controls: who sees them, who acts, and auditors who can change nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from core.models import AuditEvent
from decisions.models import DecisionSystem
from oversight import remedy, stopswitch
from oversight.controls_models import DefectKind, Incident, RemedyCampaign, RemedyItem
from tests.oversight.controls import World, decide, decide_many, make_world, user_in


@pytest.fixture
def world(db: Any) -> World:
    return make_world(stop_switch_overturn_rate=Decimal("0.500"), stop_switch_min_sample=4)


@pytest.fixture
def incident(world: World) -> Incident:
    decide_many(world, "overturned", "overturned", "overturned", "upheld")
    found = stopswitch.stop_switch_evaluate(system=world.system)
    assert found is not None
    return found


@pytest.fixture
def campaign(world: World) -> RemedyCampaign:
    world.decision()
    world.decision()
    return remedy.remedy_campaign_open(
        defect_kind=DefectKind.VERSION,
        ref=world.version,
        actor=world.alice,
        description="Version 1.0 read the bureau's late flag the wrong way round.",
    )


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def changes() -> int:
    return AuditEvent.objects.count()


def test_signed_out_visitors_are_sent_to_sign_in(db: Any) -> None:
    response = Client().get(reverse("oversight:incidents"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_reviewers_see_remedies_but_not_incidents(world: World) -> None:
    c = client_for(world.alice)
    assert c.get(reverse("oversight:incidents")).status_code == 403
    assert c.get(reverse("oversight:remedies")).status_code == 200


def test_auditors_read_every_page_and_are_shown_no_form(incident: Incident, campaign: RemedyCampaign) -> None:
    c = client_for(user_in("auditor"))
    pages = [
        reverse("oversight:incidents"),
        reverse("oversight:incident", args=[incident.pk]),
        reverse("oversight:remedies"),
        reverse("oversight:remedy", args=[campaign.pk]),
    ]
    for url in pages:
        response = c.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert 'method="post" action="/oversight/' not in body, url
    listing = c.get(reverse("oversight:incidents")).content.decode()
    assert incident.reference in listing and "Suspended" in listing
    assert "above the threshold" in listing


def test_auditors_cannot_change_anything_on_these_pages(incident: Incident, campaign: RemedyCampaign) -> None:
    c = client_for(user_in("auditor"))
    item = RemedyItem.objects.filter(campaign=campaign).first()
    assert item is not None
    before = changes()
    posts = [
        (reverse("oversight:incident-widespread", args=[incident.pk]), {}),
        (reverse("oversight:incident-reported", args=[incident.pk]), {"report_reference": "X"}),
        (reverse("oversight:incident-close", args=[incident.pk]), {"reason": "Closing as an auditor."}),
        (reverse("oversight:incident-note", args=[incident.pk]), {"note": "An auditor's note."}),
        (reverse("oversight:system-resume", args=[incident.system.slug]), {}),
        (reverse("oversight:remedy-new"), {"appeal": "APL-0000-0000", "pick": "version:1"}),
        (reverse("oversight:remedy-item-resolve", args=[campaign.pk, item.pk]), {"note": "Stands as it is."}),
        (reverse("oversight:remedy-process", args=[campaign.pk]), {}),
    ]
    for url, data in posts:
        assert c.post(url, data).status_code == 403, url
    incident.refresh_from_db()
    item.refresh_from_db()
    assert (incident.status, incident.widespread, incident.notes) == (Incident.Status.OPEN, False, "")
    assert item.status == RemedyItem.Status.QUEUED
    assert incident.system.status == DecisionSystem.Status.SUSPENDED
    assert changes() == before


def test_a_senior_reviewer_marks_an_incident_widespread_and_resumes_the_system(incident: Incident) -> None:
    senior = user_in("senior reviewer", "reviewer")
    c = client_for(senior)
    page = c.get(reverse("oversight:incident", args=[incident.pk])).content.decode()
    assert "Mark widespread" in page and "Close the incident" in page
    response = c.post(
        reverse("oversight:incident-widespread", args=[incident.pk]), {"note": "Three regions."}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.widespread and "Three regions." in incident.notes
    assert AuditEvent.objects.filter(action="incident.mark_widespread", actor_id=str(senior.pk)).exists()
    response = c.post(
        reverse("oversight:system-resume", args=[incident.system.slug]), {"note": "Rolled back."}
    )
    assert response.status_code == 302
    incident.system.refresh_from_db()
    assert incident.system.status == DecisionSystem.Status.LIVE


def test_a_refused_step_shows_the_page_again_with_the_problem_and_what_was_typed(incident: Incident) -> None:
    c = client_for(user_in("admin"))
    response = c.post(reverse("oversight:incident-close", args=[incident.pk]), {"reason": "short"})
    assert response.status_code == 422
    body = response.content.decode()
    assert "There is a problem" in body and 'href="#f-reason"' in body and ">short</textarea>" in body
    incident.refresh_from_db()
    assert incident.status == Incident.Status.OPEN


def test_a_reviewer_opens_a_campaign_from_a_decided_appeal_and_records_a_re_review(world: World) -> None:
    appeal = decide(world, "overturned")
    other = world.decision()
    c = client_for(world.alice)
    form = c.get(reverse("oversight:remedy-new"), {"appeal": appeal.reference}).content.decode()
    assert "The reason code INCOME_LOW" in form and f"version:{world.version.pk}" in form
    refused = c.post(
        reverse("oversight:remedy-new"), {"appeal": appeal.reference, "pick": "", "description": ""}
    )
    assert refused.status_code == 422 and "There is a problem" in refused.content.decode()
    response = c.post(
        reverse("oversight:remedy-new"),
        {
            "appeal": appeal.reference,
            "pick": f"version:{world.version.pk}",
            "description": "Version 1.0 read the bureau's late flag the wrong way round.",
        },
    )
    assert response.status_code == 302
    campaign = RemedyCampaign.objects.get()
    (item,) = RemedyItem.objects.filter(campaign=campaign)
    assert item.decision_id == other.pk  # not the appealed decision, nor the one that replaced it
    detail = c.get(reverse("oversight:remedy", args=[campaign.pk])).content.decode()
    assert other.public_reference in detail and "Change it to approved" in detail
    response = c.post(
        reverse("oversight:remedy-item-resolve", args=[campaign.pk, item.pk]),
        {"outcome": "", "note": "The late flag was right for this person."},
    )
    assert response.status_code == 302
    item.refresh_from_db()
    campaign.refresh_from_db()
    assert item.status == RemedyItem.Status.UNCHANGED and item.resolved_by == world.alice
    assert campaign.status == RemedyCampaign.Status.COMPLETED
