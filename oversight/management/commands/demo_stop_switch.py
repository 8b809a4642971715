"""``python manage.py demo_stop_switch [--system content-moderation]``: watch the stop switch trip (S29).

Files appeals on the system's most recent adverse decisions and has the demo reviewer overturn them, all
through the real appeals services (filing, assignment by the senior reviewer, opening the statement,
deciding with reasons), until the overturn rate of the version is above the system's threshold with at
least its minimum sample. The stop switch then suspends the system and opens an incident. Run it after
``seed_demo``; it changes the demo data (that is the point), so run ``seed_demo`` on a fresh database to
start again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse

from appeals import services as appeals
from appeals.models import Appeal
from core import clock
from core.actors import Actor
from core.errors import ApplicationError
from core.models import User
from decisions.management.commands.seed_demo import Command as SeedDemo
from decisions.models import Decision, DecisionSystem, HumanInvolvement, Outcome
from oversight import stopswitch
from oversight.controls_models import Incident

REVIEWER, SENIOR, ADMIN = "reviewer", "senior", "admin"
STATEMENT = (
    "I think this decision is wrong: the information it used does not describe my situation. "
    "Please have a person look at it again."
)
RATIONALE = (
    "I read the statement and the decision record: the machine's reasons do not hold for this case, "
    "so the decision is overturned."
)
MAX_APPEALS = 500


class Command(BaseCommand):
    help = (
        "Trip the stop switch in the demo: overturn a burst of appeals on a system's recent adverse "
        "decisions through the real appeals services, so the system suspends itself and an incident opens."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--system", default="content-moderation", help="The system's slug.")

    def handle(self, *args: Any, system: str, **options: Any) -> None:
        # Like seed_demo: with the console email backend, the appeals' notice emails go to files instead.
        with SeedDemo()._demo_mailbox() as mailbox:
            self._run(system)
        if mailbox:
            self.stdout.write(f"The notices these appeals sent were emailed to files in {mailbox}.")

    def _run(self, system: str) -> None:
        out = self.stdout.write
        s = DecisionSystem.objects.filter(slug=system).first()
        if s is None:
            raise CommandError(f"No system '{system}'. Run `python manage.py seed_demo` first.")
        if s.status != DecisionSystem.Status.LIVE:
            raise CommandError(
                f"{s.name} is {s.get_status_display().lower()}: resume it on the Stop switch page first."
            )
        users = {u.username: u for u in User.objects.filter(username__in=[REVIEWER, SENIOR, ADMIN])}
        if len(users) < 3:
            raise CommandError("The demo staff are missing. Run `python manage.py seed_demo` first.")
        reviewer, senior = users[REVIEWER], users[SENIOR]
        self._prepare(s, reviewer, users[ADMIN])
        favourable = Outcome.objects.filter(version__system=s, adverse=False).order_by("pk").first()
        if favourable is None:
            raise CommandError(f"{s.name} has no favourable outcome to overturn to.")

        rate = self._rate(s)
        out(
            f"{s.name}: threshold {Decimal(s.stop_switch_overturn_rate):.0%} over at least "
            f"{s.stop_switch_min_sample} decided appeals in {stopswitch.window_days()} days; now "
            f"{rate.changed if rate else 0} of {rate.decided if rate else 0} overturned or modified."
        )
        candidates = self._candidates(s, reviewer)
        decided = 0
        for d in candidates:
            s.refresh_from_db(fields=["status"])
            if s.status != DecisionSystem.Status.LIVE or self._tripping(s):
                break
            try:
                self._overturn(d, reviewer, senior, s.blind_review, favourable.code)
            except ApplicationError as exc:
                self.stderr.write(f"  skipped {d.public_reference}: {exc.detail}")
                continue
            decided += 1
        out(f"Filed and overturned {decided} appeal(s) through the appeals services.")
        s.refresh_from_db(fields=["status"])
        if s.status == DecisionSystem.Status.LIVE:
            # Where appeals calls the stop switch after each outcome, the system is already suspended.
            # Where it does not (yet), this is what the periodic sweep would do within minutes.
            out("The system is still live: running the stop switch's periodic evaluation now.")
            stopswitch.stop_switch_evaluate(system=s)
            s.refresh_from_db(fields=["status"])
        incident = Incident.objects.filter(system=s).order_by("-opened_at").first()
        if s.status != DecisionSystem.Status.SUSPENDED or incident is None:
            raise CommandError(
                f"The stop switch did not trip ({decided} appeals overturned; not enough recent adverse "
                "decisions to appeal?)."
            )
        site = settings.SITE_URL
        out(self.style.WARNING(f"{s.name} is SUSPENDED by the stop switch."))
        out(
            f"Incident {incident.reference}: {incident.overturn_rate:.0%} of {incident.sample} decided "
            f"appeals overturned or modified (threshold {incident.threshold:.0%}); report due "
            f"{incident.reporting_due:%d %B %Y} (2 days if you mark it widespread)."
        )
        out("New adverse decisions of this system now wait for a person (status 'awaiting_human').")
        out("Where to look (sign in as senior / senior-demo-pass; auditor / auditor-demo-pass reads only):")
        out(f"  incident:      {site}{reverse('oversight:incident', args=[incident.pk])}")
        out(f"  stop switch:   {site}{reverse('oversight:incidents')}#stop-switch  (Resume button)")
        out(f"  remedies:      {site}{reverse('oversight:remedies')}  (open a campaign from these appeals)")

    def _prepare(self, s: DecisionSystem, reviewer: User, admin: User) -> None:
        """The demo reviewer in the system's queue, trained where the impact level needs it (S2)."""
        queue = appeals.queue_for_system(s)
        appeals.queue_member_add(queue=queue, user=reviewer, actor=admin)
        trained = reviewer.trainings.filter(Q(system=s) | Q(system__isnull=True)).exists()
        if s.requires_human_decision_for_adverse and not trained:
            appeals.reviewer_training_record(
                user=reviewer,
                course="Reviewing automated decisions",
                completed_on=clock.now().date(),
                actor=admin,
            )

    def _rate(self, s: DecisionSystem) -> stopswitch.VersionRate | None:
        rates = stopswitch.version_rates(s)
        return max(rates, key=lambda r: r.decided) if rates else None

    def _tripping(self, s: DecisionSystem) -> bool:
        return any(stopswitch.trips(s, r) for r in stopswitch.version_rates(s))

    def _candidates(self, s: DecisionSystem, reviewer: User) -> list[Decision]:
        """Recent adverse decisions with no appeal yet, that the reviewer took no part in (S22)."""
        involved = HumanInvolvement.objects.filter(decision=OuterRef("pk"), by=reviewer.staff_ref)
        return list(
            Decision.objects.filter(
                system=s,
                adverse=True,
                status__in=[Decision.Status.PENDING_NOTICE, Decision.Status.EFFECTIVE],
            )
            .exclude(Exists(Appeal.objects.filter(decision=OuterRef("pk"))))
            .exclude(Exists(involved))
            .select_related("subject")
            .order_by("-recorded_at")[:MAX_APPEALS]
        )

    def _overturn(self, d: Decision, reviewer: User, senior: User, blind: bool, favourable: str) -> None:
        with transaction.atomic():
            a = appeals.appeal_file(decision=d, statement=STATEMENT, actor=Actor.subject(d.subject.pseudonym))
            a = appeals.review_reassign(appeal=a, to=reviewer, actor=senior, reason="demo: stop switch")
            appeals.evidence_open(appeal=a, reviewer=reviewer)
            if blind:
                appeals.review_record_blind_assessment(appeal=a, reviewer=reviewer, outcome=favourable)
            appeals.review_decide(
                appeal=a,
                reviewer=reviewer,
                outcome=Appeal.Outcome.OVERTURNED,
                rationale=RATIONALE,
                evidence_relied_on=["statement", "decision_record"],
            )
