"""The stop switch (S29): a version overturned too often suspends its system, holds new adverse outcomes for a
person and opens an incident; staff resume it. Appeals are decided through the real appeals services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from core import clock
from core.actors import SYSTEM
from core.errors import PermissionDenied, TransitionNotAllowed, ValidationFailed
from decisions.models import Decision, DecisionSystem
from notifications.models import Notice
from oversight import incidents, stopswitch
from oversight.controls_models import Incident
from tests.factories import recorded_decision
from tests.oversight.controls import World, decide, decide_many, events, make_world, user_in


@pytest.fixture
def world(db: Any) -> World:
    # Threshold 0.5 over at least 4 decided appeals: 2 of 4 is exactly at it, 3 of 4 is above.
    return make_world(stop_switch_overturn_rate=Decimal("0.500"), stop_switch_min_sample=4)


@pytest.fixture
def senior(db: Any) -> Any:
    return user_in("senior reviewer", "reviewer", staff_ref="EMP-SENIOR-CTL")


def _status(system: DecisionSystem) -> str:
    system.refresh_from_db()
    return system.status


# ------------------------------------------------------------------------------------------ the threshold


def test_a_rate_exactly_at_the_threshold_does_not_trip_the_switch(world: World) -> None:
    decide_many(world, "overturned", "modified", "upheld", "upheld")
    (rate,) = stopswitch.version_rates(world.system)
    assert (rate.decided, rate.overturned, rate.modified, rate.rate) == (4, 1, 1, Decimal("0.5000"))
    assert stopswitch.stop_switch_evaluate(system=world.system) is None
    assert _status(world.system) == DecisionSystem.Status.LIVE
    assert not Incident.objects.exists()
    assert events("incident.opened") == []


def test_one_more_overturn_above_the_threshold_suspends_the_system_and_opens_an_incident(
    world: World,
) -> None:
    decide_many(world, "overturned", "modified", "overturned", "upheld")
    incident = stopswitch.stop_switch_evaluate(system=world.system)
    assert incident is not None
    assert _status(world.system) == DecisionSystem.Status.SUSPENDED
    assert incident.version_id == world.version.pk
    assert (incident.sample, incident.overturned, incident.modified) == (4, 2, 1)
    assert incident.overturn_rate == Decimal("0.7500")
    assert incident.threshold == Decimal("0.500")
    assert incident.status == Incident.Status.OPEN
    assert incident.reporting_due == clock.deadline_date(incident.opened_at, 15, world.system.time_zone)
    (opened,) = events("incident.opened")
    assert opened.target_id == str(incident.pk)
    assert opened.data["decided"] == 4 and opened.data["overturn_rate"] == "0.7500"
    assert opened.actor_type == "system"
    (suspended,) = events("system.suspended")
    assert "Stop switch" in suspended.data["reason"] and suspended.target_id == str(world.system.pk)


def test_fewer_decided_appeals_than_the_minimum_sample_never_trip_it(world: World) -> None:
    decide_many(world, "overturned", "overturned", "overturned")
    (rate,) = stopswitch.version_rates(world.system)
    assert rate.rate == Decimal("1.0000") and rate.decided == 3
    assert stopswitch.stop_switch_evaluate(system=world.system) is None
    assert _status(world.system) == DecisionSystem.Status.LIVE


def test_appeals_decided_before_the_window_do_not_count(world: World, settings: Any) -> None:
    decide_many(world, "overturned", "overturned", "overturned", "upheld")
    settings.OVERSIGHT_STOP_SWITCH_WINDOW_DAYS = 30
    later = clock.now() + timedelta(days=31)
    assert stopswitch.version_rates(world.system, now=later) == []
    assert stopswitch.stop_switch_evaluate(system=world.system, now=later) is None
    assert stopswitch.stop_switch_evaluate(system=world.system) is not None


def test_two_evaluations_open_one_incident(world: World) -> None:
    decide_many(world, "overturned", "overturned", "overturned", "upheld")
    first = stopswitch.stop_switch_evaluate(system=world.system)
    second = stopswitch.stop_switch_evaluate(system=world.system)
    assert first is not None and second is None
    assert Incident.objects.count() == 1
    assert len(events("system.suspended")) == 1


def test_the_periodic_sweep_trips_every_live_system_past_its_threshold(world: World) -> None:
    calm = make_world(stop_switch_overturn_rate=Decimal("0.500"), stop_switch_min_sample=4)
    decide_many(world, "overturned", "overturned", "overturned", "upheld")
    decide_many(calm, "upheld", "upheld", "upheld", "overturned")
    opened = stopswitch.stop_switch_sweep()
    assert [i.system_id for i in opened] == [world.system.pk]
    assert _status(calm.system) == DecisionSystem.Status.LIVE


# ------------------------------------------------------------------------------------------ holding


def test_a_suspended_system_holds_new_adverse_outcomes_for_a_person(world: World) -> None:
    decide_many(world, "overturned", "overturned", "overturned", "upheld")
    assert stopswitch.stop_switch_evaluate(system=world.system) is not None
    world.system.refresh_from_db()
    adverse = recorded_decision(world.system, world.version)
    favourable = recorded_decision(world.system, world.version, adverse=False)
    assert adverse.status == Decision.Status.AWAITING_HUMAN
    assert adverse.effective_at is None
    assert not Notice.objects.filter(topic_id=str(adverse.pk), kind=Notice.Kind.DECISION).exists()
    assert favourable.status == Decision.Status.EFFECTIVE


def test_the_after_outcome_handler_evaluates_the_system_once_the_outcome_commits(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    appeals = decide_many(world, "overturned", "overturned", "overturned")
    last = decide(world, "upheld")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        stopswitch.stop_switch_after_outcome(last)
        assert _status(world.system) == DecisionSystem.Status.LIVE  # not before the commit
    assert len(callbacks) == 1
    assert _status(world.system) == DecisionSystem.Status.SUSPENDED
    assert len(appeals) == 3 and Incident.objects.count() == 1


def test_deciding_appeals_through_the_appeals_services_trips_the_switch_by_itself(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        decide_many(world, "overturned", "overturned", "overturned", "upheld")
    assert _status(world.system) == DecisionSystem.Status.SUSPENDED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_evaluations_at_the_same_moment_on_postgres_open_one_incident() -> None:
    import threading
    from unittest import mock

    from django.db import connection

    w = make_world(stop_switch_overturn_rate=Decimal("0.500"), stop_switch_min_sample=4)
    # Hold the outcome hook back while the appeals are decided: it would trip the switch on the fourth
    # outcome (transaction=True runs on-commit work), leaving nothing for the two evaluations to race for.
    with mock.patch("appeals.hooks._handlers", []):
        decide_many(w, "overturned", "overturned", "overturned", "upheld")
    barrier = threading.Barrier(2)
    opened: list[Incident | None] = []

    def evaluate() -> None:
        try:
            barrier.wait()
            opened.append(stopswitch.stop_switch_evaluate(system=w.system.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(i is not None for i in opened) == [False, True]
    assert Incident.objects.filter(system=w.system).count() == 1
    assert len(events("system.suspended")) == 1


# ------------------------------------------------------------------------------------------ resuming


def test_staff_resume_the_system_and_the_appeals_that_tripped_it_count_no_more(
    world: World, senior: Any
) -> None:
    decide_many(world, "overturned", "overturned", "overturned", "upheld")
    incident = stopswitch.stop_switch_evaluate(system=world.system)
    assert incident is not None
    system = stopswitch.system_resume(system=world.system, actor=senior, note="Model rolled back to 0.9.")
    assert system.status == DecisionSystem.Status.LIVE
    incident.refresh_from_db()
    assert incident.resumed_at is not None and incident.resumed_by == senior
    assert "Model rolled back" in incident.notes
    (resumed,) = events("system.resumed")
    assert resumed.actor_id == str(senior.pk)
    assert resumed.data["incidents"] == [incident.reference]
    assert "Model rolled back" not in str(resumed.data)
    assert events("system.went_live")[-1].data["from"] == DecisionSystem.Status.SUSPENDED
    assert stopswitch.version_rates(world.system) == []
    assert stopswitch.stop_switch_evaluate(system=world.system) is None
    assert recorded_decision(world.system, world.version).status == Decision.Status.PENDING_NOTICE


def test_new_overturns_after_a_resume_trip_the_switch_again(world: World, senior: Any) -> None:
    decide_many(world, "overturned", "overturned", "overturned", "upheld")
    assert stopswitch.stop_switch_evaluate(system=world.system) is not None
    stopswitch.system_resume(system=world.system, actor=senior)
    decide_many(world, "overturned", "overturned", "overturned", "overturned")
    again = stopswitch.stop_switch_evaluate(system=world.system)
    assert again is not None and again.sample == 4
    assert Incident.objects.count() == 2


def test_auditors_and_reviewers_cannot_resume_a_system(world: World) -> None:
    decide_many(world, "overturned", "overturned", "overturned", "upheld")
    assert stopswitch.stop_switch_evaluate(system=world.system) is not None
    for who in (user_in("auditor"), world.alice):
        with pytest.raises(PermissionDenied):
            stopswitch.system_resume(system=world.system, actor=who)
    assert _status(world.system) == DecisionSystem.Status.SUSPENDED
    assert events("system.resumed") == []


def test_only_a_suspended_system_is_resumed(world: World, senior: Any) -> None:
    with pytest.raises(TransitionNotAllowed):
        stopswitch.system_resume(system=world.system, actor=senior)


# ------------------------------------------------------------------------------------------ incidents


def _incident(world: World) -> Incident:
    decide_many(world, "overturned", "overturned", "overturned", "upheld")
    incident = stopswitch.stop_switch_evaluate(system=world.system)
    assert incident is not None
    return incident


def test_a_widespread_incident_is_due_for_reporting_two_days_after_it_opened(
    world: World, senior: Any
) -> None:
    incident = _incident(world)
    old_due = incident.reporting_due
    incident = incidents.incident_mark_widespread(incident=incident, actor=senior, note="Three regions.")
    assert incident.widespread
    assert incident.reporting_due == clock.deadline_date(incident.opened_at, 2, world.system.time_zone)
    assert incident.reporting_due < old_due
    (ev,) = events("incident.mark_widespread")
    assert ev.data["reporting_due"] == {"old": old_due.isoformat(), "new": incident.reporting_due.isoformat()}
    with pytest.raises(TransitionNotAllowed):
        incidents.incident_mark_widespread(incident=incident, actor=senior)


def test_an_incident_is_reported_then_closed_and_every_step_is_audited(world: World, senior: Any) -> None:
    incident = _incident(world)
    incident = incidents.incident_mark_reported(
        incident=incident, actor=senior, report_reference="MSA-2026-0042", note="Sent by the DPO."
    )
    assert incident.status == Incident.Status.REPORTED and incident.reported_at is not None
    assert incident.report_reference == "MSA-2026-0042"
    (reported,) = events("incident.reported")
    assert reported.data["from"] == "open" and reported.data["to"] == "reported"
    assert reported.data["late"] is False
    with pytest.raises(TransitionNotAllowed):
        incidents.incident_mark_reported(incident=incident, actor=senior)
    with pytest.raises(ValidationFailed):
        incidents.incident_close(incident=incident, actor=senior, reason="ok")
    incident = incidents.incident_close(
        incident=incident, actor=senior, reason="Version 1.1 fixes the bureau mapping."
    )
    assert incident.status == Incident.Status.CLOSED and incident.closed_at is not None
    (closed,) = events("incident.close")
    assert closed.data["was_reported"] is True
    with pytest.raises(TransitionNotAllowed):
        incidents.incident_mark_widespread(incident=incident, actor=senior)


def test_an_incident_past_its_reporting_date_is_overdue(world: World) -> None:
    incident = _incident(world)
    assert not incidents.is_overdue(incident)
    assert incidents.is_overdue(incident, at=clock.now() + timedelta(days=17))


def test_auditors_cannot_change_an_incident(world: World) -> None:
    incident = _incident(world)
    auditor = user_in("auditor")
    for step in (
        lambda: incidents.incident_mark_widespread(incident=incident, actor=auditor),
        lambda: incidents.incident_mark_reported(incident=incident, actor=auditor),
        lambda: incidents.incident_close(incident=incident, actor=auditor, reason="Closing it as auditor."),
        lambda: incidents.incident_add_note(incident=incident, actor=auditor, note="A note."),
    ):
        with pytest.raises(PermissionDenied):
            step()
    incident.refresh_from_db()
    assert incident.status == Incident.Status.OPEN and not incident.widespread and not incident.notes
    assert [e.action for e in events("incident.opened")] == ["incident.opened"]
    assert not [e for e in events("incident.note")]


def test_the_system_itself_may_act_on_incidents(world: World) -> None:
    incident = incidents.incident_add_note(incident=_incident(world), actor=SYSTEM, note="Checked nightly.")
    assert "Checked nightly." in incident.notes


# ------------------------------------------------------------------------------------------ the demo


def test_the_demo_command_overturns_appeals_until_the_switch_trips(db: Any) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    w = make_world(stop_switch_overturn_rate=Decimal("0.250"), stop_switch_min_sample=5)
    for name, groups in (
        ("reviewer", ["reviewer"]),
        ("senior", ["senior reviewer", "reviewer"]),
        ("admin", []),
    ):
        user_in(*groups, username=name, staff_ref=f"DEMO-{name}", is_superuser=name == "admin")
    decisions = [w.decision() for _ in range(8)]
    out = StringIO()
    call_command("demo_stop_switch", "--system", w.system.slug, stdout=out)
    text = out.getvalue()
    assert _status(w.system) == DecisionSystem.Status.SUSPENDED
    incident = Incident.objects.get(system=w.system)
    assert incident.sample == 5 and incident.overturned == 5  # stops as soon as the switch would trip
    assert incident.reference in text and "/oversight/incidents/" in text
    reversed_ = Decision.objects.filter(pk__in=[d.pk for d in decisions], status=Decision.Status.REVERSED)
    assert reversed_.count() == 5
    assert len(events("appeal.decided")) == 5
    with pytest.raises(CommandError):
        call_command("demo_stop_switch", "--system", w.system.slug, stdout=StringIO())


def test_an_unknown_incident_is_not_found(db: Any) -> None:
    from core.errors import NotFound

    senior = user_in("senior reviewer")
    for bad in ("not-a-uuid", "01a21944-bed3-722b-8848-92d1382abc3c"):
        with pytest.raises(NotFound):
            incidents.incident_add_note(incident=bad, actor=senior, note="Where is it?")
