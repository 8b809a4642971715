"""The reviewer pages, mounted at /review/ (config.urls): "my queues" and the case page.

Who may do what (S33: least access):

- Members of the groups reviewer, senior reviewer, admin and auditor (and superusers) may look.
- Reviewers see the appeals of the queues they belong to and the cases they hold; senior reviewers, admins
  and auditors see every appeal. Anyone else gets 404 for a case, as if it did not exist.
- Auditors read and change nothing: every POST from an auditor's account is 403. They never open
  evidence files either (the files go only to the case's reviewers, who are recorded opening them, S21).

Every write is one service call (appeals.services, appeals.messaging). A refusal (evidence not opened,
S21; not independent, S22; blind assessment first, S23; a missing rationale...) re-renders the page with a
GOV.UK-style error summary, every typed value kept, and the refusal's HTTP status: bad input never gives
a 500. Success redirects (303) back to the page, with a one-line confirmation.

The pages run their queries in a fixed number of statements whatever the number of cases (counts and the
"new message" flag are aggregates and subqueries, related rows are joined or prefetched).

Keyboard shortcuts (appeals/static/appeals/review.js) only enhance: every action is a link or a button.
htmx (request.htmx) swaps the filtered list in place; without JavaScript the filter form reloads the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from appeals import forms, messaging, selectors, services
from appeals.models import Appeal, EvidenceFile, Queue, QueueMembership, Review
from appeals.workflow import CLOCK_RUNNING_STATES, LABELS, OPEN_STATES, State
from core import clock
from core.errors import ApplicationError
from core.models import AuditEvent, User
from decisions.explanations import render_explanation
from decisions.models import Decision, Outcome
from notifications.models import Notice

V = TypeVar("V", bound=Callable[..., HttpResponseBase])

VIEW_GROUPS = {"reviewer", "seniorreviewer", "admin", "auditor"}
PAGE_SIZE = 50
WARN_DAYS = 3  # an SLA badge turns amber this many days before the due date
OPEN = [s.value for s in OPEN_STATES]
RUNNING = [s.value for s in CLOCK_RUNNING_STATES]


# ------------------------------------------------------------------------------------------ who is looking


def _norm(name: str) -> str:
    return name.lower().replace(" ", "").replace("_", "").replace("-", "")


@dataclass(frozen=True)
class Staff:
    """The signed-in user and what their groups allow, worked out once per request (one query)."""

    user: User
    groups: frozenset[str]

    @property
    def superuser(self) -> bool:
        return bool(self.user.is_superuser)

    @property
    def auditor(self) -> bool:
        return "auditor" in self.groups and not self.superuser

    @property
    def reviewer(self) -> bool:
        return bool({"reviewer", "seniorreviewer"} & self.groups)

    @property
    def supervisor(self) -> bool:
        return self.superuser or bool({"seniorreviewer", "admin"} & self.groups)

    @property
    def can_view(self) -> bool:
        return self.user.is_active and (self.superuser or bool(VIEW_GROUPS & self.groups))

    @property
    def can_act(self) -> bool:
        return self.can_view and not self.auditor

    @property
    def sees_everything(self) -> bool:
        return self.supervisor or self.auditor


def staff_of(request: HttpRequest) -> Staff:
    cached = getattr(request, "_review_staff", None)
    if cached is None:
        user = cast(User, request.user)
        names = frozenset(_norm(n) for n in user.groups.values_list("name", flat=True))
        cached = Staff(user, names)
        request._review_staff = cached  # type: ignore[attr-defined]
    return cast(Staff, cached)


def staff_page(view: V) -> V:
    """Signed in, and in one of the groups that may look."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not staff_of(request).can_view:
            raise PermissionDenied("The review pages are for reviewers, supervisors and auditors.")
        return view(request, *args, **kwargs)

    return cast(V, never_cache(login_required(wrapped)))


def staff_action(view: V) -> V:
    """A POST by someone who may change things: never an auditor (read-only, S33)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not staff_of(request).can_act:
            raise PermissionDenied(
                "Auditors have read-only access: nothing can be changed from this account."
            )
        return view(request, *args, **kwargs)

    return cast(V, require_POST(login_required(wrapped)))


def visible_appeals(staff: Staff) -> QuerySet[Appeal]:
    """S33: reviewers see their queues' cases and the cases they hold; supervisors and auditors all."""
    if staff.sees_everything:
        return Appeal.objects.all()
    member_of = QueueMembership.objects.filter(user=staff.user).values("queue_id")
    return Appeal.objects.filter(Q(queue_id__in=member_of) | Q(claimed_by=staff.user))


def _appeal_or_404(staff: Staff, appeal_id: UUID) -> Appeal:
    a = (
        visible_appeals(staff)
        .select_related(
            "decision",
            "decision__system",
            "decision__subject",
            "decision__outcome",
            "decision__version",
            "queue",
            "claimed_by",
            "resulting_decision",
            "resulting_decision__outcome",
        )
        .filter(pk=appeal_id)
        .first()
    )
    if a is None:
        raise Http404("No such appeal.")
    return a


def _case_url(appeal: Appeal | UUID, anchor: str = "") -> str:
    pk = getattr(appeal, "pk", appeal)
    return reverse("appeals:case", kwargs={"appeal_id": pk}) + (f"#{anchor}" if anchor else "")


def _redirect(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303  # after a POST: the browser GETs the page
    return response


# ------------------------------------------------------------------------------------------ SLA badges


@dataclass(frozen=True)
class Badge:
    label: str
    tone: str  # "bad" (breached), "warn" (close), "ok", "paused", "done"


def sla_badge(status: str, due: date | None, tz: str, today: date | None = None) -> Badge:
    """Time to breach of the institution's clock (S25); red once the due date has passed."""
    if status not in OPEN:
        return Badge("Finished", "done")
    if status == State.AWAITING_APPELLANT:
        return Badge("Clock paused: waiting for the person", "paused")
    if due is None:
        return Badge("No due date", "ok")
    today = today or clock.local_date(clock.now(), tz)
    days = (due - today).days
    if days < 0:
        late = -days
        return Badge(f"Breached {late} day{'s' if late != 1 else ''} ago", "bad")
    if days == 0:
        return Badge("Due today", "warn")
    return Badge(f"{days} day{'s' if days != 1 else ''} to breach", "warn" if days <= WARN_DAYS else "ok")


# ------------------------------------------------------------------------------------------ "my queues"


@dataclass
class QueueRow:
    queue: Queue
    queued: int = 0
    in_review: int = 0
    awaiting_appellant: int = 0
    awaiting_second_review: int = 0
    breached: int = 0
    next_due: date | None = None
    badge: Badge = field(default_factory=lambda: Badge("Nothing waiting", "ok"))


def _queue_rows(staff: Staff) -> list[QueueRow]:
    """The reviewer's queues (every queue for supervisors and auditors who belong to none) with counts per
    status and the nearest due date; two queries whatever the number of queues and appeals."""
    mine = Queue.objects.filter(memberships__user=staff.user)
    queues = list(
        (mine if not staff.sees_everything or mine.exists() else Queue.objects.all())
        .select_related("system")
        .annotate(
            n_queued=Count("appeals", filter=Q(appeals__status=State.QUEUED)),
            n_review=Count("appeals", filter=Q(appeals__status=State.IN_REVIEW)),
            n_waiting=Count("appeals", filter=Q(appeals__status=State.AWAITING_APPELLANT)),
            n_second=Count("appeals", filter=Q(appeals__status=State.AWAITING_SECOND_REVIEW)),
        )
        .order_by("system__name", "team")
    )
    rows = {
        q.pk: QueueRow(
            q,
            queued=q.n_queued,
            in_review=q.n_review,
            awaiting_appellant=q.n_waiting,
            awaiting_second_review=q.n_second,
        )
        for q in queues
    }
    # Due dates per queue (one row per queue and date): breaches are counted in each system's own zone.
    due = (
        Appeal.objects.filter(queue_id__in=list(rows), status__in=RUNNING)
        .values("queue_id", "due_date")
        .annotate(n=Count("id"))
        .order_by()
    )
    now = clock.now()
    for item in due:
        row = rows[item["queue_id"]]
        today = clock.local_date(now, row.queue.system.time_zone)
        if item["due_date"] < today:
            row.breached += item["n"]
        if row.next_due is None or item["due_date"] < row.next_due:
            row.next_due = item["due_date"]
    for row in rows.values():
        if row.next_due is not None:
            row.badge = sla_badge(State.QUEUED, row.next_due, row.queue.system.time_zone)
    return list(rows.values())


@dataclass
class AppealRow:
    appeal: Appeal
    badge: Badge
    new_message: bool


def _rows(appeals: Any) -> list[AppealRow]:
    now = clock.now()
    out = []
    for a in appeals:
        tz = a.decision.system.time_zone
        out.append(
            AppealRow(a, sla_badge(a.status, a.due_date, tz, clock.local_date(now, tz)), bool(a.new_message))
        )
    return out


def _with_list_data(qs: QuerySet[Appeal]) -> QuerySet[Appeal]:
    return qs.select_related(
        "decision", "decision__system", "decision__subject", "claimed_by", "queue"
    ).annotate(new_message=messaging.has_new_message())


def _filtered(staff: Staff, f: dict[str, Any]) -> QuerySet[Appeal]:
    qs = visible_appeals(staff)
    qs = qs.filter(status=f["status"]) if f.get("status") else qs.filter(status__in=OPEN)
    if f.get("system"):
        qs = qs.filter(decision__system_id=f["system"])
    if f.get("stayed"):
        qs = qs.filter(stay=Appeal.Stay.APPLIED)
    if f.get("escalated"):
        qs = qs.filter(escalated=True)
    if f.get("late"):
        qs = qs.filter(late=True)
    if f.get("overdue"):
        # Past the due date in UTC terms; the badge on each row gives the exact day in the system's zone.
        qs = qs.filter(status__in=RUNNING, due_date__lt=clock.now().date())
    if f.get("new_message"):
        qs = qs.filter(messaging.has_new_message())
    return _with_list_data(qs).order_by(*selectors.ordering_for(Queue.Ordering.DOCKET))


@dataclass
class LateRow:
    appeal: Appeal
    days_late: int


def may_triage(staff: Staff) -> bool:
    """Who ``services.appeal_triage_late`` lets decide a late appeal (S17): reviewers and supervisors,
    never an auditor."""
    return staff.can_act and (staff.reviewer or staff.supervisor)


def _late_rows(staff: Staff) -> list[LateRow]:
    """Late appeals that wait for a person to accept or refuse them (S17), oldest filed first."""
    late = (
        visible_appeals(staff)
        .filter(status=State.SUBMITTED, late=True, triaged_at__isnull=True)
        .select_related("decision", "decision__system")
        .order_by("filed_at")
    )
    rows = []
    for a in late:
        filed_on = clock.local_date(a.filed_at, a.decision.system.time_zone)
        rows.append(LateRow(a, max((filed_on - a.appeal_deadline).days, 0)))
    return rows


@require_GET
@staff_page
def review_home(request: HttpRequest) -> HttpResponse:
    """My queues: counts and SLA badges per queue, "Next case", my claimed cases, the second-review queue,
    and the filtered list of the cases I may see."""
    staff = staff_of(request)
    queues = _queue_rows(staff)
    systems = sorted({(r.queue.system_id, r.queue.system.name) for r in queues}, key=lambda s: s[1])
    filter_form = forms.FilterForm(request.GET or None, systems=systems)
    filters = filter_form.cleaned() if request.GET else {}
    page = Paginator(_filtered(staff, filters), PAGE_SIZE).get_page(request.GET.get("page"))
    kept = {k: v for k, v in request.GET.items() if k != "page" and v}
    context: dict[str, Any] = {
        "staff": staff,
        "filter_form": filter_form,
        "page": page,
        "rows": _rows(page.object_list),
        "query": urlencode(kept),
        "filtered": any(filters.values()),
    }
    if request.htmx and request.htmx.target == "appeal-list":  # type: ignore[attr-defined]
        return render(request, "appeals/review/_appeal_list.html", context)
    context["queues"] = queues
    if may_triage(staff):
        context["late"] = _late_rows(staff)
    if staff.reviewer:
        context["claims"] = _rows(_with_list_data(selectors.reviewer_claims(staff.user)))
        context["second"] = _rows(_with_list_data(selectors.second_review_queue(staff.user))[:20])
    return render(request, "appeals/review/queues.html", context)


@staff_action
def next_case(request: HttpRequest) -> HttpResponse:
    """ "Next case": claim the first case the reviewer may take (escalated, then stayed, then oldest) and
    open it. ``stage=second`` takes the next case waiting for a second review (S24) instead."""
    staff = staff_of(request)
    queue = None
    raw_queue = request.POST.get("queue", "")
    if raw_queue:
        queue = Queue.objects.filter(
            pk=int(raw_queue) if raw_queue.isdigit() else 0, memberships__user=staff.user
        ).first()
        if queue is None:
            messages.error(request, "You are not a member of that queue.")
            return _redirect(reverse("appeals:review"))
    second = request.POST.get("stage") == "second"
    try:
        claim = services.review_claim_next_second if second else services.review_claim_next
        appeal = claim(reviewer=staff.user, queue=queue)
    except ApplicationError as exc:
        messages.error(request, exc.detail)
        return _redirect(reverse("appeals:review"))
    if appeal is None:
        what = "waiting for a second review" if second else "in your queues"
        messages.info(
            request,
            f"There is no case for you to claim {what} right now. Cases you may not review "
            "(you took part in the decision, reviewed it before, or declared a conflict) are never offered.",
        )
        return _redirect(reverse("appeals:review"))
    messages.success(request, f"You now hold {appeal.reference}.")
    return _redirect(_case_url(appeal))


# ------------------------------------------------------------------------------------------ the case page


@dataclass
class TimelineEntry:
    at: datetime
    what: str
    who: str
    kind: str  # "event" | "notice"


def _event_label(action: str) -> str:
    noun, _, verb = action.partition(".")
    return f"{noun.replace('_', ' ').capitalize()}: {verb.replace('_', ' ')}" if verb else action


def _who(event: AuditEvent) -> str:
    if event.actor_type == "subject":
        return "The person"
    if event.actor_type == "system":
        return "The system"
    return event.actor_label or f"{event.actor_type} {event.actor_id}"


def timeline(appeal: Appeal) -> list[TimelineEntry]:
    """The full history: audit events of the appeal, its decision and the decision that replaced it, and
    the notices sent about them (kind, channel and status only: their words may reveal the machine's
    outcome during blind review). Two queries."""
    decisions = [str(appeal.decision_id)] + (
        [str(appeal.resulting_decision_id)] if appeal.resulting_decision_id else []
    )
    dlabel = Decision._meta.label_lower
    events = AuditEvent.objects.filter(
        Q(target_type=Appeal._meta.label_lower, target_id=str(appeal.pk))
        | Q(target_type=dlabel, target_id__in=decisions)
    ).only("occurred_at", "action", "actor_type", "actor_id", "actor_label")
    entries = [TimelineEntry(e.occurred_at, _event_label(e.action), _who(e), "event") for e in events]
    sent = Notice.objects.filter(
        Q(topic_type=Appeal._meta.label_lower, topic_id=str(appeal.pk))
        | Q(topic_type=dlabel, topic_id__in=decisions)
    ).only("created_at", "kind", "channel", "status")
    entries += [
        TimelineEntry(
            n.created_at,
            f"Notice: {n.get_kind_display().lower()} "
            f"({n.get_channel_display().lower()}, {n.get_status_display().lower()})",
            "Outbox",
            "notice",
        )
        for n in sent
    ]
    return sorted(entries, key=lambda e: e.at)


@dataclass
class PageErrors:
    """What the error summary lists: (message, anchor) pairs, first the form's, then the service's."""

    items: list[tuple[str, str]] = field(default_factory=list)
    title: str = "There is a problem"

    def __bool__(self) -> bool:
        return bool(self.items)


def _form_errors(form: forms.ReviewForm) -> PageErrors:
    errs = PageErrors()
    for name, messages_ in form.errors.items():
        for m in messages_:
            errs.items.append(
                (f"{form.fields[name].label}: {m}" if name in form.fields else str(m), form.anchor(name))
            )
    return errs


def _service_errors(form: forms.ReviewForm, exc: ApplicationError) -> PageErrors:
    errs = PageErrors(title=exc.title)
    if exc.errors:
        for e in exc.errors:
            errs.items.append((str(e.get("message") or exc.detail), form.anchor(str(e.get("field") or ""))))
            form.add_error(None, "")  # marks the form as failed without touching its values
    else:
        errs.items.append((exc.detail, form.anchor()))
    return errs


def _outcome_choices(appeal: Appeal) -> list[tuple[str, str]]:
    return [
        (o.code, f"{(o.label or {}).get('en') or o.code}{' (adverse)' if o.adverse else ''}")
        for o in Outcome.objects.filter(version_id=appeal.decision.version_id).order_by("adverse", "code")
    ]


def _case_forms(
    appeal: Appeal, case: dict[str, Any], outcomes: list[tuple[str, str]], staff: Staff
) -> dict[str, Any]:
    replies = [r for r in case["information_requests"] if r.replied_at]
    reviewers = []
    if staff.supervisor and appeal.queue_id:
        reviewers = [
            (m.user_id, m.user.get_username())
            for m in QueueMembership.objects.filter(queue_id=appeal.queue_id)
            .select_related("user")
            .order_by("user__username")
            if m.user_id != appeal.claimed_by_id
        ]
    return {
        "blind_form": forms.BlindAssessmentForm(outcomes=outcomes),
        "decide_form": forms.DecideForm(
            outcomes=outcomes,
            evidence=forms.evidence_choices(case["evidence"], replies),
            initial={"evidence_relied_on": ["statement", "decision_record"]},
        ),
        "confirm_form": forms.ConfirmSecondForm(),
        "info_form": forms.InformationRequestForm(),
        "message_form": forms.MessageForm(),
        "release_form": forms.ReleaseForm(),
        "reassign_form": forms.ReassignForm(reviewers=reviewers),
        "triage_form": forms.TriageForm(),
    }


def _render_case(
    request: HttpRequest,
    appeal: Appeal,
    *,
    bound: dict[str, Any] | None = None,
    errors: PageErrors | None = None,
    status: int = 200,
) -> HttpResponse:
    staff = staff_of(request)
    user = staff.user
    case = selectors.case_file(appeal, user)
    outcomes = _outcome_choices(appeal)
    context = _case_forms(appeal, case, outcomes, staff)
    context.update(bound or {})
    d = appeal.decision
    claimant = appeal.claimed_by_id == user.pk
    first_review = next(
        (r for r in case["reviews"] if r.reviewer_id == user.pk and r.stage == Review.Stage.FIRST), None
    )
    opened_statement = "statement" not in case["unopened"]
    status_ = appeal.status
    open_ = status_ in OPEN
    context.update(
        {
            "staff": staff,
            "appeal": appeal,
            "decision": d,
            "case": case,
            "machine": case["machine"],
            "explanation": render_explanation(d, "en") if case["machine"] else None,
            "inputs": case["inputs"],
            "evidence": case["evidence"],
            "unopened": set(case["unopened"]),
            "statement_visible": opened_statement or staff.auditor,
            "messages_thread": list(messaging.thread(appeal)),
            "timeline": timeline(appeal),
            "badge": sla_badge(status_, appeal.due_date, d.system.time_zone),
            "state_label": LABELS[State(status_)],
            "claimant": claimant,
            "can_act": staff.can_act,
            "is_open": open_,
            "show_blind": claimant
            and status_ == State.IN_REVIEW
            and d.system.blind_review
            and not (first_review and first_review.blind_at),
            "show_decide": claimant and status_ == State.IN_REVIEW,
            "show_confirm": claimant and status_ == State.AWAITING_SECOND_REVIEW,
            "show_info": claimant and status_ == State.IN_REVIEW,
            "show_release": staff.can_act
            and appeal.claimed_by_id is not None
            and status_ in (State.IN_REVIEW, State.AWAITING_SECOND_REVIEW)
            and (claimant or staff.supervisor),
            "show_reassign": staff.can_act
            and staff.supervisor
            and status_
            in (
                State.QUEUED,
                State.IN_REVIEW,
                State.AWAITING_APPELLANT,
                State.AWAITING_SECOND_REVIEW,
            ),
            "show_message": staff.can_act and open_ and (claimant or staff.supervisor),
            "show_triage": may_triage(staff)
            and appeal.late
            and status_ == State.SUBMITTED
            and appeal.triaged_at is None,
            "can_open": staff.can_act and (claimant or staff.supervisor or staff.reviewer),
            "first_review": next(
                (r for r in case["reviews"] if r.stage == Review.Stage.FIRST and r.decided_at), None
            ),
            "errors": errors or PageErrors(),
            "pending_question": next(
                (r for r in case["information_requests"] if not r.replied_at and not r.timed_out_at), None
            ),
        }
    )
    return render(request, "appeals/review/case.html", context, status=status)


@require_GET
@staff_page
def case_page(request: HttpRequest, appeal_id: UUID) -> HttpResponse:
    staff = staff_of(request)
    appeal = _appeal_or_404(staff, appeal_id)
    if appeal.claimed_by_id == staff.user.pk and staff.can_act:
        messaging.message_mark_read(appeal=appeal, reader=staff.user)
    return _render_case(request, appeal)


def _act(
    request: HttpRequest,
    appeal_id: UUID,
    form_name: str,
    make_form: Callable[[Appeal, dict[str, Any]], forms.ReviewForm],
    call: Callable[[Appeal, dict[str, Any]], Any],
    done: str,
    anchor: str = "",
) -> HttpResponse:
    """The shape of every case-page POST: bind the form, call one service, redirect on success; otherwise
    the case page again with the error summary and the typed values."""
    staff = staff_of(request)
    appeal = _appeal_or_404(staff, appeal_id)
    form = make_form(appeal, {"data": request.POST})
    if not form.is_valid():
        return _render_case(request, appeal, bound={form_name: form}, errors=_form_errors(form), status=400)
    try:
        call(appeal, form.cleaned_data)
    except ApplicationError as exc:
        errs = _service_errors(form, exc)
        return _render_case(
            request, _appeal_or_404(staff, appeal_id), bound={form_name: form}, errors=errs, status=exc.status
        )
    messages.success(request, done)
    return _redirect(_case_url(appeal_id, anchor))


@staff_action
def open_statement(request: HttpRequest, appeal_id: UUID) -> HttpResponse:
    """Record that the reviewer read the person's statement (S21), then show it."""
    staff = staff_of(request)
    appeal = _appeal_or_404(staff, appeal_id)
    try:
        services.evidence_open(appeal=appeal, reviewer=staff.user)
    except ApplicationError as exc:
        return _render_case(
            request, appeal, errors=PageErrors([(exc.detail, "statement")], exc.title), status=exc.status
        )
    return _redirect(_case_url(appeal_id, "statement"))


@require_GET
@staff_page
def evidence_file(request: HttpRequest, appeal_id: UUID, evidence_id: UUID) -> HttpResponseBase:
    """Serve one evidence file to a reviewer of the case, after recording that they opened it (S21, S33).

    Sent as a download (never rendered by the browser as a page), with the sniffed type, nosniff and a
    sandboxing CSP, and never cached."""
    staff = staff_of(request)
    if not staff.can_act:
        raise PermissionDenied("Evidence files go only to the case's reviewers (S33).")
    appeal = _appeal_or_404(staff, appeal_id)
    evidence = EvidenceFile.objects.filter(pk=evidence_id, appeal=appeal).first()
    if evidence is None:
        raise Http404("No such file on this appeal.")
    try:
        path: Path = selectors.evidence_path(evidence)
    except ValueError:
        raise Http404("No such file.") from None
    if not path.is_file():
        raise Http404("The file is missing from storage.")
    try:
        services.evidence_open(appeal=appeal, reviewer=staff.user, evidence=evidence)
    except ApplicationError as exc:
        raise PermissionDenied(exc.detail) from exc
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=evidence.original_name,
        content_type=evidence.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "no-store, private"
    return response


@staff_action
def blind_assessment(request: HttpRequest, appeal_id: UUID) -> HttpResponse:
    staff = staff_of(request)
    return _act(
        request,
        appeal_id,
        "blind_form",
        lambda a, kw: forms.BlindAssessmentForm(outcomes=_outcome_choices(a), **kw),
        lambda a, c: services.review_record_blind_assessment(
            appeal=a, reviewer=staff.user, outcome=c["outcome"], note=c["note"]
        ),
        "Your assessment is recorded. The machine's outcome and score are now shown.",
        "decision",
    )


def _decide_form(a: Appeal, kw: dict[str, Any]) -> forms.DecideForm:
    replies = list(a.information_requests.filter(replied_at__isnull=False))
    return forms.DecideForm(
        outcomes=_outcome_choices(a), evidence=forms.evidence_choices(list(a.evidence.all()), replies), **kw
    )


@staff_action
def decide(request: HttpRequest, appeal_id: UUID) -> HttpResponse:
    staff = staff_of(request)

    def call(a: Appeal, c: dict[str, Any]) -> Appeal:
        return services.review_decide(
            appeal=a,
            reviewer=staff.user,
            outcome=c["outcome"],
            rationale=c["rationale"],
            evidence_relied_on=c["evidence_relied_on"],
            new_outcome=c["new_outcome"] if c["outcome"] != Appeal.Outcome.UPHELD else "",
            remedy=c["remedy"],
            remedy_note=c["remedy_note"],
        )

    return _act(request, appeal_id, "decide_form", _decide_form, call, "The outcome is recorded.")


@staff_action
def confirm_second(request: HttpRequest, appeal_id: UUID) -> HttpResponse:
    staff = staff_of(request)
    return _act(
        request,
        appeal_id,
        "confirm_form",
        lambda a, kw: forms.ConfirmSecondForm(**kw),
        lambda a, c: services.review_confirm_second(
            appeal=a, reviewer=staff.user, confirm=c["confirm"], rationale=c["rationale"]
        ),
        "Your second review is recorded.",
    )


@staff_action
def request_information(request: HttpRequest, appeal_id: UUID) -> HttpResponse:
    staff = staff_of(request)
    return _act(
        request,
        appeal_id,
        "info_form",
        lambda a, kw: forms.InformationRequestForm(**kw),
        lambda a, c: services.information_request(
            appeal=a, reviewer=staff.user, question=c["question"], reply_days=c["reply_days"]
        ),
        "Your question was sent. The institution's clock is paused until the person answers.",
    )


@staff_action
def post_message(request: HttpRequest, appeal_id: UUID) -> HttpResponse:
    staff = staff_of(request)
    return _act(
        request,
        appeal_id,
        "message_form",
        lambda a, kw: forms.MessageForm(**kw),
        lambda a, c: messaging.message_post(
            appeal=a, author_kind="reviewer", body=c["body"], actor=staff.user
        ),
        "Your message was sent to the person.",
        "messages",
    )


@staff_action
def release(request: HttpRequest, appeal_id: UUID) -> HttpResponse:
    staff = staff_of(request)
    return _act(
        request,
        appeal_id,
        "release_form",
        lambda a, kw: forms.ReleaseForm(**kw),
        lambda a, c: services.review_release(appeal=a, actor=staff.user, reason=c["reason"]),
        "The case is back in its queue.",
    )


@staff_action
def reassign(request: HttpRequest, appeal_id: UUID) -> HttpResponse:
    staff = staff_of(request)

    def make(a: Appeal, kw: dict[str, Any]) -> forms.ReassignForm:
        members = QueueMembership.objects.filter(queue_id=a.queue_id or 0).select_related("user")
        return forms.ReassignForm(reviewers=[(m.user_id, m.user.get_username()) for m in members], **kw)

    def call(a: Appeal, c: dict[str, Any]) -> Appeal:
        to = User.objects.filter(pk=c["to"]).first()
        if to is None:
            raise services.NotFound("No such reviewer.")
        return services.review_reassign(appeal=a, to=to, actor=staff.user, reason=c["reason"])

    return _act(request, appeal_id, "reassign_form", make, call, "The case was given to another reviewer.")


@staff_action
def triage(request: HttpRequest, appeal_id: UUID) -> HttpResponse:
    """Accept a late appeal for good cause or refuse it as inadmissible (S17)."""
    staff = staff_of(request)
    return _act(
        request,
        appeal_id,
        "triage_form",
        lambda a, kw: forms.TriageForm(**kw),
        lambda a, c: services.appeal_triage_late(
            appeal=a, accept=c["accept"], reasons=c["reasons"], actor=staff.user
        ),
        "Your triage is recorded and the person is told.",
    )
