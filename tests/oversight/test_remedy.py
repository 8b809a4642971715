"""Systemic remedy (S30): a defect found on appeal reaches every other decision it touched, and no other."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.utils import timezone

from appeals import services as appeal_services
from appeals.workflow import State
from core.actors import Actor
from core.errors import PermissionDenied, TransitionNotAllowed, ValidationFailed
from decisions.models import Decision, DecisionInput, HumanInvolvement, ReasonCode, SystemVersion
from decisions.notices import NoticeIncomplete
from decisions.readability import readability
from notifications.models import Notice, WebhookMessage
from oversight import remedy
from oversight.controls_models import DefectKind, RemedyCampaign, RemedyItem
from tests.factories import SystemVersionFactory, decision_payload, populate_version
from tests.oversight.controls import World, events, make_world, user_in

I = RemedyItem.Status  # noqa: E741

# Version 1.0 passes at 70 points; 1.1 (the correction) at 60. Best possible: 100.
CARD_V1: dict[str, Any] = {
    "base": 0,
    "threshold": 70,
    "score_min": 0,
    "score_max": 100,
    "outcomes": {"pass": "approved", "fail": "declined"},
    "features": [
        {
            "name": "annual_income",
            "kind": "numeric",
            "actionable": True,
            "reason": "INCOME_LOW",
            "bands": [{"max": 20000, "points": 0}, {"min": 20000, "points": 30}],
        },
        {
            "name": "debt_to_income",
            "kind": "numeric",
            "actionable": True,
            "reason": "DEBT_HIGH",
            "step": "0.01",
            "bands": [{"max": "0.6", "points": 30}, {"min": "0.6", "points": 0}],
        },
        {
            "name": "late_payments_12m",
            "kind": "numeric",
            "actionable": True,
            "reason": "LATE_PAYMENTS",
            "bands": [{"max": 2, "points": 20}, {"min": 2, "points": 0}],
        },
        {
            "name": "years_at_address",
            "kind": "numeric",
            "reason": "SHORT_RESIDENCE",
            "bands": [{"max": 2, "points": 0}, {"min": 2, "points": 20}],
        },
    ],
}
CARD_V2 = copy.deepcopy(CARD_V1) | {"threshold": 60}

# 30 + 30 + 0 + 0 = 60: declined under 1.0 (LATE_PAYMENTS, SHORT_RESIDENCE), approved under 1.1.
BORDERLINE = {"annual_income": 21000, "debt_to_income": 0.52, "late_payments_12m": 3, "years_at_address": 1}
# 0 + 0 + 20 + 20 = 40: declined under both (INCOME_LOW, DEBT_HIGH).
LOW = {"annual_income": 15000, "debt_to_income": 0.7, "late_payments_12m": 0, "years_at_address": 5}
# 30 + 30 + 20 + 20 = 100: approved under both.
GOOD = {"annual_income": 40000, "debt_to_income": 0.2, "late_payments_12m": 0, "years_at_address": 5}


@pytest.fixture
def world(db: Any) -> World:
    return scorecard_world()


def scorecard_world() -> World:
    w = make_world()
    w.version.scorecard = CARD_V1
    w.version.score_min, w.version.score_max, w.version.threshold = 0, 100, 70
    w.version.save(update_fields=["scorecard", "score_min", "score_max", "threshold"])
    return w


def corrected(w: World) -> SystemVersion:
    v2 = SystemVersionFactory.create(system=w.system, version="1.1", score_min=0, score_max=100, threshold=60)
    populate_version(v2)
    v2.scorecard = CARD_V2
    v2.save(update_fields=["scorecard"])
    return v2


def record(
    w: World,
    values: dict[str, Any],
    *,
    version: SystemVersion | None = None,
    sources: dict[str, str] | None = None,
    language: str = "en",
) -> Decision:
    from decisions.services import decision_record

    v = version or w.version
    payload = decision_payload(w.system, v)
    for row in payload["inputs"]:
        row["value"] = values[row["feature"]]
        row["source"] = (sources or {}).get(row["feature"], row["source"])
    payload.update(score=None, outcome="", reasons=[])
    payload["subject"]["language"] = language
    return decision_record(data=payload, actor=w.client, client=w.client).decision


def item_decisions(campaign: RemedyCampaign) -> set[Any]:
    return set(RemedyItem.objects.filter(campaign=campaign).values_list("decision_id", flat=True))


def reason(w: World, code: str, version: SystemVersion | None = None) -> ReasonCode:
    return ReasonCode.objects.get(version=version or w.version, code=code)


def open_campaign(capture: Any, **kwargs: Any) -> RemedyCampaign:
    with capture(execute=True):
        campaign = remedy.remedy_campaign_open(**kwargs)
    campaign.refresh_from_db()
    return campaign


# ------------------------------------------------------------------------------------------ finding


def test_a_reason_code_campaign_finds_every_live_adverse_decision_that_gave_it_and_none_other(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    hit1, hit2 = record(world, BORDERLINE), record(world, BORDERLINE | {"annual_income": 25000})
    other_reasons = record(world, LOW)
    favourable = record(world, GOOD)
    elsewhere = scorecard_world()
    other_system = record(elsewhere, BORDERLINE)
    origin = record(world, BORDERLINE | {"annual_income": 22000})
    assert {d.outcome.code for d in (hit1, hit2, other_reasons, origin)} == {"declined"}
    assert "LATE_PAYMENTS" in {r.reason_code.code for r in other_system.reasons.all()}
    assert "LATE_PAYMENTS" not in {r.reason_code.code for r in other_reasons.reasons.all()}
    # The appeal that revealed the defect: its decision (and the one replacing it) are already decided.
    appeal = appeal_services.appeal_file(
        decision=origin, statement="The late payments were the bank's error.", actor=Actor.subject("p")
    )
    claimed = appeal_services.review_claim_next(reviewer=world.alice, queue=world.queue)
    assert claimed is not None and claimed.pk == appeal.pk
    world.open_everything(claimed, world.alice)
    appeal = appeal_services.review_decide(
        appeal=claimed,
        reviewer=world.alice,
        outcome="overturned",
        rationale="The late payment flag came from a stale bureau feed.",
        evidence_relied_on=["statement"],
    )
    campaign = open_campaign(
        django_capture_on_commit_callbacks,
        defect_kind=DefectKind.REASON_CODE,
        ref=reason(world, "LATE_PAYMENTS"),
        actor=world.alice,
        description="LATE_PAYMENTS counted payments the bureau had already corrected.",
        appeal=appeal,
    )
    assert item_decisions(campaign) == {hit1.pk, hit2.pk}
    assert favourable.pk not in item_decisions(campaign) and other_system.pk not in item_decisions(campaign)
    assert set(RemedyItem.objects.filter(campaign=campaign).values_list("action", "status")) == {
        (RemedyItem.Action.REREVIEW, I.QUEUED)
    }
    (opened,) = events("remedy.campaign_opened")
    assert opened.target_id == str(campaign.pk)
    assert opened.data["items"] == 2 and opened.data["rereview"] == 2
    assert opened.data["appeal"] == appeal.reference and opened.actor_id == str(world.alice.pk)
    assert "Person" not in str(opened.data) and "@" not in str(opened.data)
    assert campaign.status == RemedyCampaign.Status.OPEN


def test_a_data_source_campaign_finds_that_feature_from_that_source_in_every_version(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    v2 = corrected(world)
    bureau = {"annual_income": "Bureau X"}
    v1_hit = record(world, BORDERLINE, sources=bureau)
    v2_hit = record(world, LOW, version=v2, sources=bureau)
    same_source_other_feature = record(world, LOW, sources={"debt_to_income": "Bureau X"})
    same_feature_other_source = record(world, BORDERLINE)
    favourable_same_source = record(world, GOOD, sources=bureau)
    row = DecisionInput.objects.get(decision=v1_hit, feature__name="annual_income")
    campaign = open_campaign(
        django_capture_on_commit_callbacks,
        defect_kind=DefectKind.DATA_SOURCE,
        ref=row,
        actor=world.alice,
        description="Bureau X sent last year's income figures.",
    )
    assert (campaign.feature_name, campaign.source) == ("annual_income", "Bureau X")
    assert item_decisions(campaign) == {v1_hit.pk, v2_hit.pk}
    assert not item_decisions(campaign) & {
        same_source_other_feature.pk,
        same_feature_other_source.pk,
        favourable_same_source.pk,
    }


def test_finding_the_decisions_takes_the_same_queries_for_three_or_thirty(
    world: World,
) -> None:
    def measure(n: int) -> int:
        system_world = scorecard_world()
        for i in range(n):
            record(system_world, BORDERLINE | {"annual_income": 21000 + i})
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            remedy.remedy_campaign_open(
                defect_kind=DefectKind.VERSION,
                ref=system_world.version,
                actor=world.alice,
                description="The threshold of version 1.0 was set too high.",
            )
        return len(ctx.captured_queries)

    assert measure(3) == measure(30)


def test_an_unknown_defect_or_a_missing_description_is_refused(world: World) -> None:
    with pytest.raises(ValidationFailed):
        remedy.remedy_campaign_open(
            defect_kind=DefectKind.REASON_CODE,
            ref=world.version,
            actor=world.alice,
            description="Long enough.",
        )
    with pytest.raises(ValidationFailed):
        remedy.remedy_campaign_open(
            defect_kind=DefectKind.VERSION, ref=world.version, actor=world.alice, description="bad"
        )
    with pytest.raises(ValidationFailed):
        remedy.remedy_campaign_open(
            defect_kind="model", ref=world.version, actor=world.alice, description="Long enough text."
        )
    assert not RemedyCampaign.objects.exists()


def test_auditors_cannot_open_a_campaign(world: World) -> None:
    with pytest.raises(PermissionDenied):
        remedy.remedy_campaign_open(
            defect_kind=DefectKind.VERSION,
            ref=world.version,
            actor=user_in("auditor"),
            description="The auditor thinks version 1.0 is wrong.",
        )
    assert not RemedyCampaign.objects.exists() and events("remedy.campaign_opened") == []


# ------------------------------------------------------------------------------------------ re-scoring


def test_a_version_campaign_rescores_under_the_corrected_version_and_completes(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    changes = record(world, BORDERLINE)
    stands = record(world, LOW, language="es")
    appealed = record(world, BORDERLINE | {"annual_income": 23000})
    open_appeal = appeal_services.appeal_file(
        decision=appealed, statement="I think the limit was wrong.", actor=Actor.subject("p")
    )
    v2 = corrected(world)
    campaign = open_campaign(
        django_capture_on_commit_callbacks,
        defect_kind=DefectKind.VERSION,
        ref=world.version,
        actor=world.alice,
        description="Version 1.0 asked for 70 points; the policy says 60.",
    )
    assert campaign.rescore_version == v2
    items = {i.decision_id: i for i in RemedyItem.objects.filter(campaign=campaign)}
    assert set(items) == {changes.pk, stands.pk, appealed.pk}
    assert {i.action for i in items.values()} == {RemedyItem.Action.RESCORE}
    changed, unchanged = items[changes.pk], items[stands.pk]
    assert changed.status == I.CHANGED and unchanged.status == I.UNCHANGED
    assert changed.new_decision is not None
    new = changed.new_decision
    assert (new.outcome.code, new.version_id, new.supersedes_id) == ("approved", v2.pk, changes.pk)
    changes.refresh_from_db()
    stands.refresh_from_db()
    assert changes.status == Decision.Status.SUPERSEDED
    assert stands.status == Decision.Status.PENDING_NOTICE
    open_appeal.refresh_from_db()
    assert open_appeal.status == State.CLOSED  # moot: the decision it contested was replaced
    campaign.refresh_from_db()
    assert campaign.status == RemedyCampaign.Status.COMPLETED and campaign.completed_at is not None
    counts = remedy.remedy_campaign_counts(campaign)
    assert (counts["changed"], counts["unchanged"], counts["open"], counts["total"]) == (2, 1, 0, 3)
    (completed,) = events("remedy.campaign_completed")
    assert completed.data["changed"] == 2 and completed.data["total"] == 3
    assert len(events("remedy.item_resolved")) == 3
    assert WebhookMessage.objects.filter(event_type="decision.remedied").count() == 2
    # Everyone was told the campaign opened; the person whose decision stands was told so, in Spanish.
    opened_notices = Notice.objects.filter(template_key="oversight/controls/notices/remedy_opened")
    assert opened_notices.filter(channel="portal").count() == 3
    (checked,) = Notice.objects.filter(
        template_key="oversight/controls/notices/remedy_checked", channel="portal"
    )
    assert checked.recipient == stands.subject.pseudonym and checked.language == "es"
    assert "no cambia" in checked.body_text and stands.public_reference in checked.body_text
    assert all(i.notified_at for i in RemedyItem.objects.filter(campaign=campaign))


def test_a_rescore_the_corrected_card_cannot_make_goes_to_a_person(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    d = record(world, BORDERLINE)
    v2 = corrected(world)
    card = copy.deepcopy(CARD_V2)
    card["features"].append(
        {
            "name": "months_employed",
            "kind": "numeric",
            "bands": [{"max": 6, "points": 0, "reason": "NEW_JOB"}, {"min": 6, "points": 0}],
        }
    )
    v2.scorecard = card
    v2.save(update_fields=["scorecard"])
    campaign = open_campaign(
        django_capture_on_commit_callbacks,
        defect_kind=DefectKind.VERSION,
        ref=world.version,
        actor=world.alice,
        description="Version 1.0 asked for 70 points; the policy says 60.",
        rescore_version=v2,
    )
    (item,) = RemedyItem.objects.filter(campaign=campaign)
    assert (item.action, item.status) == (RemedyItem.Action.REREVIEW, I.QUEUED)
    assert "cannot score" in item.note and item.decision_id == d.pk
    assert campaign.status == RemedyCampaign.Status.OPEN


def test_the_corrected_version_must_be_another_scorecard_version_of_the_same_system(world: World) -> None:
    other = make_world()
    for bad in (world.version, other.version):
        with pytest.raises(ValidationFailed):
            remedy.remedy_campaign_open(
                defect_kind=DefectKind.VERSION,
                ref=world.version,
                actor=world.alice,
                description="Version 1.0 asked for 70 points.",
                rescore_version=bad,
            )


# ------------------------------------------------------------------------------------------ re-review


def test_reviewers_record_the_result_of_each_re_review_until_the_campaign_completes(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    keep, change = record(world, BORDERLINE), record(world, BORDERLINE | {"annual_income": 30000})
    campaign = open_campaign(
        django_capture_on_commit_callbacks,
        defect_kind=DefectKind.REASON_CODE,
        ref=reason(world, "LATE_PAYMENTS"),
        actor=world.alice,
        description="LATE_PAYMENTS counted payments the bureau had already corrected.",
    )
    items = {i.decision_id: i for i in RemedyItem.objects.filter(campaign=campaign)}
    auditor = user_in("auditor")
    with pytest.raises(PermissionDenied):
        remedy.remedy_item_resolve(item=items[keep.pk], actor=auditor, note="Looks right to the auditor.")
    with pytest.raises(ValidationFailed):
        remedy.remedy_item_resolve(item=items[keep.pk], actor=world.bob, note="ok")
    kept = remedy.remedy_item_resolve(
        item=items[keep.pk], actor=world.bob, note="The late payments are real: two missed in May."
    )
    assert kept.status == I.UNCHANGED and kept.resolved_by == world.bob
    with pytest.raises(TransitionNotAllowed):
        remedy.remedy_item_resolve(item=kept, actor=world.bob, note="Trying to resolve it twice.")
    campaign.refresh_from_db()
    assert campaign.status == RemedyCampaign.Status.OPEN
    changed = remedy.remedy_item_resolve(
        item=items[change.pk], actor=world.bob, note="The payments were on time.", outcome="approved"
    )
    assert changed.status == I.CHANGED and changed.new_decision is not None
    assert changed.new_decision.outcome.code == "approved"
    change.refresh_from_db()
    assert change.status == Decision.Status.REVERSED
    campaign.refresh_from_db()
    assert campaign.status == RemedyCampaign.Status.COMPLETED
    resolved = events("remedy.item_resolved")
    assert [e.data["status"] for e in resolved] == ["unchanged", "changed"]
    assert all("payments" not in str(e.data) for e in resolved)  # the reviewer's note stays on the item
    assert events("decision.reversed")[-1].data["by"] == campaign.reference


def test_a_reviewer_who_took_part_in_the_decision_cannot_re_review_it(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    d = record(world, BORDERLINE)
    HumanInvolvement.objects.create(decision=d, kind="review", by=world.bob.staff_ref, at=timezone.now())
    campaign = open_campaign(
        django_capture_on_commit_callbacks,
        defect_kind=DefectKind.VERSION,
        ref=world.version,
        actor=world.alice,
        description="Version 1.0 asked for 70 points; the policy says 60.",
    )
    (item,) = RemedyItem.objects.filter(campaign=campaign)
    with pytest.raises(PermissionDenied):
        remedy.remedy_item_resolve(item=item, actor=world.bob, note="I checked it myself before.")
    assert remedy.remedy_item_resolve(item=item, actor=world.carol, note="Decision stands on the facts.")


def test_a_campaign_that_touched_nothing_is_complete_at_once(world: World) -> None:
    record(world, GOOD)
    campaign = remedy.remedy_campaign_open(
        defect_kind=DefectKind.VERSION,
        ref=world.version,
        actor=world.alice,
        description="Version 1.0 asked for 70 points; the policy says 60.",
    )
    assert campaign.status == RemedyCampaign.Status.COMPLETED
    assert [e.data["total"] for e in events("remedy.campaign_completed")] == [0]


# ------------------------------------------------------------------------------------------ notices


def test_remedy_notices_are_complete_or_not_sent(world: World) -> None:
    elements = remedy.specimen_elements("remedy_opened", "en")
    rendered = remedy.render_remedy_notice("remedy_opened", "en", elements)
    assert rendered.subject == "We are checking your decision CRD-4F7K-Q2MX again"
    for text in (elements["what_happened"], elements["rights"], "Review team", "RMD-7K3M-Q9XP"):
        assert text in rendered.body_text and text in rendered.body_html
    broken = elements | {"human_contact": {"name": "Review team", "email": "", "phone": ""}}
    with pytest.raises(NoticeIncomplete) as exc:
        remedy.render_remedy_notice("remedy_opened", "en", broken)
    assert exc.value.missing == ["human_contact"]


@pytest.mark.parametrize("key", sorted(remedy.NOTICE_ELEMENTS))
@pytest.mark.parametrize("lang", ["en", "es"])
def test_remedy_notices_read_at_grade_eight_or_below(key: str, lang: str) -> None:
    from decisions.notices import readable_text

    rendered = remedy.render_remedy_notice(key, lang, remedy.specimen_elements(key, lang))
    assert readability(readable_text(rendered.body_text), lang).warning == ""


def test_processing_an_unknown_campaign_is_not_found(db: Any) -> None:
    from core.errors import NotFound

    for bad in ("not-a-uuid", "01a21944-bed3-722b-8848-92d1382abc3c"):
        with pytest.raises(NotFound):
            remedy.remedy_campaign_process(campaign_id=bad)
