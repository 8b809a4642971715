"""API v1 for appeals: integrator-assisted filing and headless review tools. One APIView per operation,
nested Input/Output serializers, one service call each.

Who may call what:

- ``/api/v1/appeals/...`` and ``/api/v1/decisions/{id}/disputes/`` / ``explanation-requests/``: an API key
  may file and read appeals (disputes, explanation requests) on its own systems' decisions (anything else
  is 404, as if it did not exist); staff may use them through their session (reviewers see their queues'
  appeals, supervisors and auditors all of them).
- ``/api/v1/review/...``: the reviewer's steps, for staff signed in through their session only; an API key
  gets 403. The services check the rest (holding the case, authority, independence, S21-S24).
- Auditors read and change nothing: every POST from an auditor's account is 403 (S33).

Every POST takes an Idempotency-Key (required with an API key). Errors are RFC 9457 problem details; each
4xx an endpoint can answer is declared in the schema.
"""

from __future__ import annotations

import hashlib
from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.parsers import DataAndFiles, MultiPartParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from appeals import messaging, selectors, services
from appeals.models import Appeal, AppealMessage, Channel, EvidenceFile, Queue
from appeals.views import Staff, staff_of, visible_appeals
from appeals.workflow import CLOCK_RUNNING_STATES, OPEN_STATES, State
from core import clock
from core.api.auth import api_client_of, client_system_ids
from core.api.errors import register_problem_type
from core.api.idempotency import IdempotentPostMixin
from core.api.pagination import paginated_response
from core.api.schema import problem_responses
from core.errors import NotFound, ValidationFailed, field_error
from core.models import User
from decisions.models import Decision

TAG_APPEALS = "appeals"
TAG_REVIEW = "review"
TAG_CONTESTS = "disputes and explanation requests"

for _code, _title, _status, _description in [
    ("staff-only", "Only reviewers and their supervisors may do this", 403, "Sign in as a reviewer."),
    (
        "supervisor-only",
        "Only a senior reviewer or an administrator may do this",
        403,
        "Reassigning a case and other staff steps need a senior reviewer or an administrator.",
    ),
    (
        "not-queue-member",
        "The reviewer is not a member of the appeal's queue",
        403,
        "Add the reviewer to the queue first.",
    ),
    (
        "reviewer-training-missing",
        "The reviewer has no current training for this system",
        403,
        "At impact levels III-IV reviewers need recorded, current training (S2).",
    ),
    (
        "decision-replaced",
        "The decision was replaced",
        409,
        "Appeal or dispute the decision that replaced it.",
    ),
    ("decision-not-final", "The decision is not final yet", 409, "A person must still confirm it."),
    (
        "decision-not-adverse",
        "The decision is in the person's favour",
        409,
        "There is nothing to appeal; the person can still ask for an explanation or dispute a value.",
    ),
    (
        "assessment-recorded",
        "The initial assessment is already recorded",
        409,
        "A blind assessment (S23) cannot change once recorded.",
    ),
    (
        "thread-closed",
        "The appeal's message thread is closed",
        409,
        "Messages are for open appeals only.",
    ),
]:
    register_problem_type(_code, title=_title, status=_status, description=_description)


# ---------------------------------------------------------------------------------------------- access


def _staff(request: Request) -> Staff | None:
    return staff_of(request) if isinstance(request.user, User) else None


class AppealsAccess(BasePermission):
    """API keys (scoped to their systems by the views) and staff through their session; never a change from
    an auditor's account."""

    message = "Use an API key, or sign in as a reviewer."

    def has_permission(self, request: Request, view: Any) -> bool:
        if api_client_of(request) is not None:
            return True
        staff = _staff(request)
        if staff is None or not staff.can_view:
            return False
        if request.method not in SAFE_METHODS and not staff.can_act:
            self.message = "Auditors have read-only access: nothing can be changed from this account."
            return False
        return True


class ReviewerSession(BasePermission):
    """The reviewer's steps: staff signed in through their session (API keys never review), and no change
    from an auditor's account."""

    message = "Reviewing is for reviewers signed in through their session."

    def has_permission(self, request: Request, view: Any) -> bool:
        staff = _staff(request)
        if staff is None or not staff.can_view:
            return False
        if request.method not in SAFE_METHODS and not staff.can_act:
            self.message = "Auditors have read-only access: nothing can be changed from this account."
            return False
        return True


def appeals_in_scope(request: Request) -> QuerySet[Appeal]:
    """The appeals this request may see: an API key its systems' appeals, staff what the pages show them."""
    ids = client_system_ids(request) if api_client_of(request) is not None else None
    if ids is not None:
        return Appeal.objects.filter(decision__system_id__in=ids)
    staff = _staff(request)
    return visible_appeals(staff) if staff is not None and staff.can_view else Appeal.objects.none()


def _appeal(request: Request, pk: Any) -> Appeal:
    a = (
        appeals_in_scope(request)
        .select_related(
            "decision", "decision__system", "decision__subject", "resulting_decision", "claimed_by"
        )
        .filter(pk=pk)
        .first()
    )
    if a is None:
        raise NotFound("No such appeal.")
    return a


def _decision(request: Request, pk: Any) -> Decision:
    qs = Decision.objects.select_related("system")
    ids = client_system_ids(request) if api_client_of(request) is not None else None
    if ids is not None:
        qs = qs.filter(system_id__in=ids)
    d = qs.filter(pk=pk).first()
    if d is None:
        raise NotFound("No such decision.")
    return d


def _input(view: Any, request: Request) -> dict[str, Any]:
    """The view's InputSerializer applied to the body: 400 problem details with dotted fields otherwise."""
    s = view.InputSerializer(data=request.data)
    s.is_valid(raise_exception=True)
    return dict(s.validated_data)


def _user(request: Request) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - ReviewerSession lets only users through
    return request.user


# ---------------------------------------------------------------------------------------------- output


@extend_schema_serializer(component_name="Appeal")
class AppealOutputSerializer(serializers.Serializer):
    @extend_schema_serializer(component_name="AppealDecision")
    class DecisionSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        public_reference = serializers.CharField()
        external_id = serializers.CharField()
        system = serializers.CharField(source="system.slug")

    id = serializers.UUIDField()
    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=[s.value for s in State])
    decision = DecisionSerializer()
    subject = serializers.CharField(source="decision.subject.pseudonym")
    filed_by = serializers.CharField()
    channel = serializers.CharField()
    filed_at = serializers.DateTimeField()
    late = serializers.BooleanField()
    appeal_deadline = serializers.DateField()
    due_date = serializers.DateField()
    clock_paused = serializers.SerializerMethodField()
    stay = serializers.CharField()
    stay_reason = serializers.CharField()
    escalated = serializers.BooleanField()
    claimed = serializers.SerializerMethodField()
    outcome = serializers.CharField(allow_null=True, source="outcome_or_none")
    decided_at = serializers.DateTimeField(allow_null=True)
    remedy = serializers.ListField(child=serializers.CharField())
    resulting_decision = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    def get_clock_paused(self, a: Appeal) -> bool:
        return a.clock_paused_at is not None

    def get_claimed(self, a: Appeal) -> bool:
        return a.claimed_by_id is not None

    def get_resulting_decision(self, a: Appeal) -> dict[str, Any] | None:
        d = a.resulting_decision
        return {"id": str(d.pk), "public_reference": d.public_reference} if d else None

    def get_links(self, a: Appeal) -> dict[str, str]:
        request = self.context["request"]
        return {"self": request.build_absolute_uri(reverse("v1:appeal-detail", kwargs={"pk": a.pk}))}

    def to_representation(self, instance: Appeal) -> dict[str, Any]:
        instance.outcome_or_none = instance.outcome or None  # type: ignore[attr-defined]
        return super().to_representation(instance)


@extend_schema_serializer(component_name="AppealEvidence")
class EvidenceOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(source="original_name")
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    added_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="AppealDetail")
class AppealDetailOutputSerializer(AppealOutputSerializer):
    statement = serializers.CharField()
    requested_remedy = serializers.CharField()
    oral_hearing_requested = serializers.BooleanField()
    evidence = EvidenceOutputSerializer(many=True)


def _detail(request: Request, a: Appeal, code: int = status.HTTP_200_OK) -> Response:
    fresh = (
        Appeal.objects.select_related(
            "decision", "decision__system", "decision__subject", "resulting_decision"
        )
        .prefetch_related("evidence")
        .get(pk=a.pk)
    )
    return Response(AppealDetailOutputSerializer(fresh, context={"request": request}).data, status=code)


# ---------------------------------------------------------------------------------------------- appeals


class AppealFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=[(s.value, s.value) for s in State])
    open = django_filters.BooleanFilter(method="filter_open", help_text="Open appeals only (or closed only).")
    system = django_filters.CharFilter(field_name="decision__system__slug", help_text="A system's slug.")
    decision = django_filters.UUIDFilter(field_name="decision_id")
    reference = django_filters.CharFilter()
    stayed = django_filters.BooleanFilter(
        method="filter_stayed", help_text="The decision's effect is on hold."
    )
    escalated = django_filters.BooleanFilter()
    late = django_filters.BooleanFilter(help_text="Filed after the appeal deadline.")
    overdue = django_filters.BooleanFilter(method="filter_overdue", help_text="Past its due date (UTC day).")
    filed_after = django_filters.IsoDateTimeFilter(field_name="filed_at", lookup_expr="gte")
    filed_before = django_filters.IsoDateTimeFilter(field_name="filed_at", lookup_expr="lt")

    class Meta:
        model = Appeal
        fields: list[str] = []

    def filter_open(self, qs: QuerySet[Appeal], name: str, value: Any) -> QuerySet[Appeal]:
        q = Q(status__in=[s.value for s in OPEN_STATES])
        return qs.filter(q) if value else qs.exclude(q)

    def filter_stayed(self, qs: QuerySet[Appeal], name: str, value: Any) -> QuerySet[Appeal]:
        q = Q(stay=Appeal.Stay.APPLIED)
        return qs.filter(q) if value else qs.exclude(q)

    def filter_overdue(self, qs: QuerySet[Appeal], name: str, value: Any) -> QuerySet[Appeal]:
        q = Q(status__in=[s.value for s in CLOCK_RUNNING_STATES], due_date__lt=clock.now().date())
        return qs.filter(q) if value else qs.exclude(q)


PAGE_PARAMETERS = [
    OpenApiParameter("cursor", OpenApiTypes.STR, description="From a previous page's next/previous."),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="At most 500; 50 by default."),
]


class AppealsApi(IdempotentPostMixin, APIView):
    """``POST /api/v1/appeals/`` files an appeal (integrator-assisted, S16); ``GET`` lists appeals."""

    permission_classes = [AppealsAccess]
    cursor_ordering = "-id"  # uuid7: time-ordered and unique

    @extend_schema_serializer(component_name="AppealFileIn")
    class InputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="AppealRepresentativeIn")
        class RepresentativeSerializer(serializers.Serializer):
            name = serializers.CharField(max_length=200)
            email = serializers.EmailField(required=False, allow_blank=True, default="")
            phone = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
            authority = serializers.CharField(
                max_length=5000, help_text="How the representative is authorised to act for the person."
            )

        decision = serializers.UUIDField(help_text="The decision appealed (its id).")
        statement = serializers.CharField(max_length=20000, help_text="Why the person thinks it is wrong.")
        filed_by = serializers.ChoiceField(choices=Appeal.FiledBy.choices, default=Appeal.FiledBy.PERSON)
        representative = RepresentativeSerializer(required=False, allow_null=True, default=None)
        requested_remedy = serializers.CharField(
            max_length=5000, required=False, allow_blank=True, default=""
        )
        oral_hearing_requested = serializers.BooleanField(required=False, default=False)
        accessibility_needs = serializers.CharField(
            max_length=5000, required=False, allow_blank=True, default=""
        )
        contact_preference = serializers.ChoiceField(
            choices=Appeal.ContactPreference.choices, default=Appeal.ContactPreference.EMAIL
        )
        language = serializers.CharField(max_length=8, required=False, allow_blank=True, default="")
        good_cause = serializers.CharField(
            max_length=5000,
            required=False,
            allow_blank=True,
            default="",
            help_text="Why the appeal is late, if it is (S17).",
        )
        channel = serializers.ChoiceField(
            choices=Channel.choices,
            default=Channel.API,
            help_text="How the appeal arrived: 'api' for an integrator; staff may record 'post' or 'phone'.",
        )
        filed_at = serializers.DateTimeField(
            required=False, allow_null=True, default=None, help_text="The day a posted appeal arrived."
        )

    @extend_schema(
        operation_id="appeals_file",
        tags=[TAG_APPEALS],
        summary="File an appeal on a decision",
        request=InputSerializer,
        responses={201: AppealDetailOutputSerializer, **problem_responses(400, 401, 403, 404, 409, 415, 422)},
    )
    def post(self, request: Request) -> Response:
        data = _input(self, request)
        d = _decision(request, data.pop("decision"))
        rep = data.pop("representative") or None
        appeal = services.appeal_file(decision=d, actor=request.user, representative=rep, **data)
        return _detail(request, appeal, status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="appeals_list",
        tags=[TAG_APPEALS],
        summary="List appeals (newest first, cursor-paginated)",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=[s.value for s in State]),
            OpenApiParameter("open", OpenApiTypes.BOOL),
            OpenApiParameter("system", OpenApiTypes.STR, description="A system's slug."),
            OpenApiParameter("decision", OpenApiTypes.UUID),
            OpenApiParameter("reference", OpenApiTypes.STR),
            OpenApiParameter("stayed", OpenApiTypes.BOOL),
            OpenApiParameter("escalated", OpenApiTypes.BOOL),
            OpenApiParameter("late", OpenApiTypes.BOOL),
            OpenApiParameter("overdue", OpenApiTypes.BOOL),
            OpenApiParameter("filed_after", OpenApiTypes.DATETIME, description="Inclusive."),
            OpenApiParameter("filed_before", OpenApiTypes.DATETIME, description="Exclusive."),
            *PAGE_PARAMETERS,
        ],
        responses={
            200: inline_serializer(
                "AppealPage",
                {
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": AppealOutputSerializer(many=True),
                },
            ),
            **problem_responses(400, 401, 403),
        },
    )
    def get(self, request: Request) -> Response:
        qs = appeals_in_scope(request).select_related(
            "decision", "decision__system", "decision__subject", "resulting_decision"
        )
        f = AppealFilter(request.query_params, queryset=qs)
        if not f.is_valid():
            raise serializers.ValidationError(f.errors)
        return paginated_response(
            request=request, view=self, queryset=f.qs, serializer_class=AppealOutputSerializer
        )


class AppealDetailApi(APIView):
    """``GET /api/v1/appeals/{id}/``."""

    permission_classes = [AppealsAccess]

    @extend_schema(
        operation_id="appeals_retrieve",
        tags=[TAG_APPEALS],
        summary="Read one appeal",
        responses={200: AppealDetailOutputSerializer, **problem_responses(401, 403, 404)},
    )
    def get(self, request: Request, pk: Any) -> Response:
        return _detail(request, _appeal(request, pk))


class AppealWithdrawApi(IdempotentPostMixin, APIView):
    """``POST /api/v1/appeals/{id}/withdraw/``: the person withdraws (through the integrator or staff)."""

    permission_classes = [AppealsAccess]

    @extend_schema_serializer(component_name="AppealWithdrawIn")
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="appeals_withdraw",
        tags=[TAG_APPEALS],
        summary="Withdraw an appeal",
        request=InputSerializer,
        responses={200: AppealDetailOutputSerializer, **problem_responses(400, 401, 403, 404, 409, 415)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        data = _input(self, request)
        a = services.appeal_withdraw(appeal=_appeal(request, pk), actor=request.user, **data)
        return _detail(request, a)


class EvidenceUploadParser(MultiPartParser):
    """Multipart evidence. The files are set aside on the request, and the parsed body (what the
    Idempotency-Key fingerprints) names each file by its name, size and SHA-256: a file object is not JSON,
    and the same files sent again are the same request."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> DataAndFiles:
        parsed = super().parse(stream, media_type, parser_context)
        data = parsed.data.copy()
        uploads = []
        for key in parsed.files:
            for upload in parsed.files.getlist(key):
                digest = hashlib.sha256()
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
                data.appendlist(key, f"{upload.name}:{upload.size}:sha256:{digest.hexdigest()}")
                uploads.append(upload)
        request = (parser_context or {}).get("request")
        if request is not None:
            request.evidence_uploads = uploads
        return DataAndFiles(data, MultiValueDict())


class AppealEvidenceApi(IdempotentPostMixin, APIView):
    """``POST /api/v1/appeals/{id}/evidence/`` (multipart/form-data, one or more ``files``): PDF, JPEG or
    PNG, sniffed from their bytes, each at most 10 MB, at most 10 per appeal."""

    permission_classes = [AppealsAccess]
    parser_classes = [EvidenceUploadParser]

    @extend_schema(
        operation_id="appeals_add_evidence",
        tags=[TAG_APPEALS],
        summary="Add evidence files to an open appeal",
        request={
            "multipart/form-data": inline_serializer(
                "AppealEvidenceUpload", {"files": serializers.ListField(child=serializers.FileField())}
            )
        },
        responses={
            201: EvidenceOutputSerializer(many=True),
            **problem_responses(400, 401, 403, 404, 409, 415, 422),
        },
    )
    def post(self, request: Request, pk: Any) -> Response:
        a = _appeal(request, pk)
        request.data  # noqa: B018 - parses the body, which sets the uploads aside
        files = list(getattr(request, "evidence_uploads", []))
        if not files:
            raise ValidationFailed(
                errors=[field_error("files", "required", "Send at least one file as 'files'.")]
            )
        rows = services.evidence_add(appeal=a, files=files, actor=request.user)
        return Response(EvidenceOutputSerializer(rows, many=True).data, status=status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------------------------- review


@extend_schema_serializer(component_name="ClaimResult")
class ClaimOutputSerializer(serializers.Serializer):
    appeal = AppealOutputSerializer(allow_null=True)
    detail = serializers.CharField()


class ReviewClaimNextApi(IdempotentPostMixin, APIView):
    """``POST /api/v1/review/claim-next/``: "Next case". Answers the claimed appeal, or ``null`` with the
    reason when there is nothing the reviewer may take."""

    permission_classes = [ReviewerSession]

    @extend_schema_serializer(component_name="ReviewClaimNextIn")
    class InputSerializer(serializers.Serializer):
        queue = serializers.IntegerField(required=False, allow_null=True, default=None)
        stage = serializers.ChoiceField(choices=["first", "second"], default="first")

    @extend_schema(
        operation_id="review_claim_next",
        tags=[TAG_REVIEW],
        summary="Claim the next case",
        request=InputSerializer,
        responses={200: ClaimOutputSerializer, **problem_responses(400, 401, 403, 404, 415)},
    )
    def post(self, request: Request) -> Response:
        data = _input(self, request)
        user = _user(request)
        queue = None
        if data["queue"] is not None:
            queue = Queue.objects.filter(pk=data["queue"], memberships__user=user).first()
            if queue is None:
                raise NotFound("No such queue among yours.")
        claim = (
            services.review_claim_next_second if data["stage"] == "second" else (services.review_claim_next)
        )
        a = claim(reviewer=user, queue=queue)
        body = {
            "appeal": AppealOutputSerializer(a, context={"request": request}).data if a else None,
            "detail": f"You now hold {a.reference}." if a else "There is no case for you to claim right now.",
        }
        return Response(body)


class _ReviewStep(IdempotentPostMixin, APIView):
    permission_classes = [ReviewerSession]


class ReviewReleaseApi(_ReviewStep):
    @extend_schema_serializer(component_name="ReviewReleaseIn")
    class InputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="review_release",
        tags=[TAG_REVIEW],
        summary="Give a claimed case back to its queue",
        request=InputSerializer,
        responses={200: AppealDetailOutputSerializer, **problem_responses(400, 401, 403, 404, 409, 415)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        data = _input(self, request)
        a = services.review_release(appeal=_appeal(request, pk), actor=_user(request), **data)
        return _detail(request, a)


class ReviewTriageApi(_ReviewStep):
    """Accept a late appeal for good cause (it is queued, the stay applies as for an appeal in time) or
    refuse it as inadmissible (S17). Reasons are required either way: the person reads them."""

    @extend_schema_serializer(component_name="ReviewTriageIn")
    class InputSerializer(serializers.Serializer):
        accept = serializers.BooleanField(help_text="True: good cause, queue it. False: refuse it.")
        # Blank is let through so the service's refusal (422, field "reasons") is the one answer.
        reasons = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="")

    @extend_schema_serializer(component_name="ReviewTriageOut")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        reference = serializers.CharField()
        status = serializers.CharField()
        late = serializers.BooleanField()
        triage_reasons = serializers.CharField()
        triaged_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="review_triage",
        tags=[TAG_REVIEW],
        summary="Accept or refuse a late appeal (S17)",
        request=InputSerializer,
        responses={200: OutputSerializer, **problem_responses(400, 401, 403, 404, 409, 415, 422)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        data = _input(self, request)
        a = services.appeal_triage_late(
            appeal=_appeal(request, pk), accept=data["accept"], reasons=data["reasons"], actor=_user(request)
        )
        return Response(self.OutputSerializer(a).data)


class ReviewReassignApi(_ReviewStep):
    @extend_schema_serializer(component_name="ReviewReassignIn")
    class InputSerializer(serializers.Serializer):
        to = serializers.IntegerField(help_text="The user id of the reviewer who takes the case.")
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="review_reassign",
        tags=[TAG_REVIEW],
        summary="Give a case to a named reviewer (supervisors)",
        request=InputSerializer,
        responses={200: AppealDetailOutputSerializer, **problem_responses(400, 401, 403, 404, 409, 415)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        data = _input(self, request)
        a = _appeal(request, pk)
        to = User.objects.filter(pk=data["to"], is_active=True).first()
        if to is None:
            raise ValidationFailed(errors=[field_error("to", "unknown-user", "No such reviewer.")])
        a = services.review_reassign(appeal=a, to=to, actor=_user(request), reason=data["reason"])
        return _detail(request, a)


class ReviewOpenEvidenceApi(_ReviewStep):
    """Record that the reviewer opened the statement (``evidence`` null) or one file (S21). Answers the
    statement's text, or the address of the file (which records the opening again when fetched)."""

    @extend_schema_serializer(component_name="ReviewOpenEvidenceIn")
    class InputSerializer(serializers.Serializer):
        evidence = serializers.UUIDField(required=False, allow_null=True, default=None)

    @extend_schema_serializer(component_name="EvidenceOpened")
    class OutputSerializer(serializers.Serializer):
        opened = serializers.CharField(help_text='"statement" or the evidence id.')
        statement = serializers.CharField(allow_null=True)
        download = serializers.URLField(allow_null=True)
        unopened = serializers.ListField(child=serializers.CharField())

    @extend_schema(
        operation_id="review_open_evidence",
        tags=[TAG_REVIEW],
        summary="Open the statement or an evidence file",
        request=InputSerializer,
        responses={200: OutputSerializer, **problem_responses(400, 401, 403, 404, 409, 415)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        data = _input(self, request)
        a, user = _appeal(request, pk), _user(request)
        evidence = None
        if data["evidence"] is not None:
            evidence = EvidenceFile.objects.filter(pk=data["evidence"], appeal=a).first()
            if evidence is None:
                raise NotFound("No such evidence on this appeal.")
        services.evidence_open(appeal=a, reviewer=user, evidence=evidence)
        body = {
            "opened": str(evidence.pk) if evidence else "statement",
            "statement": None if evidence else a.statement,
            "download": request.build_absolute_uri(
                reverse("appeals:evidence", kwargs={"appeal_id": a.pk, "evidence_id": evidence.pk})
            )
            if evidence
            else None,
            "unopened": selectors.unopened_items(a, user),
        }
        return Response(self.OutputSerializer(body).data)


class ReviewBlindAssessmentApi(_ReviewStep):
    @extend_schema_serializer(component_name="ReviewBlindAssessmentIn")
    class InputSerializer(serializers.Serializer):
        outcome = serializers.CharField(max_length=40, help_text="An outcome code of the system version.")
        note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")

    @extend_schema_serializer(component_name="BlindAssessment")
    class OutputSerializer(serializers.Serializer):
        outcome = serializers.CharField(source="blind_outcome.code")
        note = serializers.CharField(source="blind_note")
        recorded_at = serializers.DateTimeField(source="blind_at")
        machine = serializers.JSONField(help_text="The machine's outcome and score, now shown (S23).")

    @extend_schema(
        operation_id="review_blind_assessment",
        tags=[TAG_REVIEW],
        summary="Record the reviewer's own assessment before seeing the machine's (S23)",
        request=InputSerializer,
        responses={201: OutputSerializer, **problem_responses(400, 401, 403, 404, 409, 415, 422)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        data = _input(self, request)
        a, user = _appeal(request, pk), _user(request)
        review = services.review_record_blind_assessment(appeal=a, reviewer=user, **data)
        d = a.decision
        review.machine = {  # type: ignore[attr-defined]
            "outcome": d.outcome.code,
            "adverse": d.adverse,
            "score": str(d.score) if d.score is not None else None,
            "band": d.band,
        }
        return Response(self.OutputSerializer(review).data, status=status.HTTP_201_CREATED)


class ReviewDecideApi(_ReviewStep):
    @extend_schema_serializer(component_name="ReviewDecideIn")
    class InputSerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(choices=Appeal.Outcome.choices)
        rationale = serializers.CharField(max_length=20000)
        evidence_relied_on = serializers.ListField(
            child=serializers.CharField(max_length=80),
            help_text='"statement", "decision_record", evidence ids and "reply:<id>" of answered questions.',
        )
        new_outcome = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
        remedy = serializers.ListField(
            child=serializers.ChoiceField(choices=Appeal.Remedy.choices), required=False, default=list
        )
        remedy_note = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="review_decide",
        tags=[TAG_REVIEW],
        summary="Record the outcome of an appeal (S21, S26, S27)",
        request=InputSerializer,
        responses={200: AppealDetailOutputSerializer, **problem_responses(400, 401, 403, 404, 409, 415, 422)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        data = _input(self, request)
        a = services.review_decide(appeal=_appeal(request, pk), reviewer=_user(request), **data)
        return _detail(request, a)


class ReviewConfirmSecondApi(_ReviewStep):
    @extend_schema_serializer(component_name="ReviewConfirmSecondIn")
    class InputSerializer(serializers.Serializer):
        confirm = serializers.BooleanField()
        rationale = serializers.CharField(max_length=20000)

    @extend_schema(
        operation_id="review_confirm_second",
        tags=[TAG_REVIEW],
        summary="Confirm, or not, the first reviewer's outcome (four eyes, S24)",
        request=InputSerializer,
        responses={200: AppealDetailOutputSerializer, **problem_responses(400, 401, 403, 404, 409, 415, 422)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        data = _input(self, request)
        a = services.review_confirm_second(appeal=_appeal(request, pk), reviewer=_user(request), **data)
        return _detail(request, a)


class ReviewRequestInformationApi(_ReviewStep):
    @extend_schema_serializer(component_name="ReviewRequestInformationIn")
    class InputSerializer(serializers.Serializer):
        question = serializers.CharField(max_length=5000)
        reply_days = serializers.IntegerField(required=False, allow_null=True, default=None)

    @extend_schema_serializer(component_name="InformationRequest")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        question = serializers.CharField()
        asked_at = serializers.DateTimeField()
        reply_due = serializers.DateField()

    @extend_schema(
        operation_id="review_request_information",
        tags=[TAG_REVIEW],
        summary="Ask the person for information (pauses the institution's clock, S25)",
        request=InputSerializer,
        responses={201: OutputSerializer, **problem_responses(400, 401, 403, 404, 409, 415, 422)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        data = _input(self, request)
        r = services.information_request(appeal=_appeal(request, pk), reviewer=_user(request), **data)
        return Response(self.OutputSerializer(r).data, status=status.HTTP_201_CREATED)


@extend_schema_serializer(component_name="AppealMessage")
class MessageOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    author_kind = serializers.ChoiceField(choices=AppealMessage.AuthorKind.choices)
    author = serializers.SerializerMethodField()
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)

    def get_author(self, m: AppealMessage) -> str | None:
        return m.author.get_username() if m.author else None


class ReviewMessagesApi(_ReviewStep):
    """``GET`` the appeal's message thread; ``POST`` a message from the reviewer to the person (who gets a
    notice)."""

    @extend_schema_serializer(component_name="ReviewMessageIn")
    class InputSerializer(serializers.Serializer):
        body = serializers.CharField(max_length=messaging.MAX_MESSAGE)

    @extend_schema(
        operation_id="review_messages_list",
        tags=[TAG_REVIEW],
        summary="Read the message thread of an appeal",
        responses={200: MessageOutputSerializer(many=True), **problem_responses(401, 403, 404)},
    )
    def get(self, request: Request, pk: Any) -> Response:
        return Response(MessageOutputSerializer(messaging.thread(_appeal(request, pk)), many=True).data)

    @extend_schema(
        operation_id="review_messages_post",
        tags=[TAG_REVIEW],
        summary="Send the person a message",
        request=InputSerializer,
        responses={201: MessageOutputSerializer, **problem_responses(400, 401, 403, 404, 409, 415, 422)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        data = _input(self, request)
        m = messaging.message_post(
            appeal=_appeal(request, pk),
            author_kind="reviewer",
            body=data["body"],
            actor=request.user,
        )
        return Response(MessageOutputSerializer(m).data, status=status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------------------------- contests


class DecisionDisputeApi(IdempotentPostMixin, APIView):
    """``POST /api/v1/decisions/{id}/disputes/``: the person disputes one input value (S19)."""

    permission_classes = [AppealsAccess]

    @extend_schema_serializer(component_name="DataDisputeIn")
    class InputSerializer(serializers.Serializer):
        feature = serializers.CharField(max_length=80, help_text="The input the person says is wrong.")
        what_is_wrong = serializers.CharField(max_length=5000)
        proposed_value = serializers.JSONField(required=False, allow_null=True, default=None)
        language = serializers.CharField(max_length=8, required=False, allow_blank=True, default="")
        channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.API)

    @extend_schema_serializer(component_name="DataDispute")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        reference = serializers.CharField()
        status = serializers.CharField()
        feature = serializers.CharField()
        filed_at = serializers.DateTimeField()
        due_date = serializers.DateField()

    @extend_schema(
        operation_id="decisions_dispute",
        tags=[TAG_CONTESTS],
        summary="Dispute an input value of a decision (S19)",
        request=InputSerializer,
        responses={201: OutputSerializer, **problem_responses(400, 401, 403, 404, 409, 415, 422)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        data = _input(self, request)
        dispute = services.dispute_file(decision=_decision(request, pk), actor=request.user, **data)
        return Response(self.OutputSerializer(dispute).data, status=status.HTTP_201_CREATED)


class DecisionExplanationRequestApi(IdempotentPostMixin, APIView):
    """``POST /api/v1/decisions/{id}/explanation-requests/``: the person asks for a fuller explanation
    (S20), due within one month."""

    permission_classes = [AppealsAccess]

    @extend_schema_serializer(component_name="ExplanationRequestIn")
    class InputSerializer(serializers.Serializer):
        question = serializers.CharField(max_length=5000)
        language = serializers.CharField(max_length=8, required=False, allow_blank=True, default="")
        channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.API)

    @extend_schema_serializer(component_name="ExplanationRequest")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        reference = serializers.CharField()
        status = serializers.CharField()
        filed_at = serializers.DateTimeField()
        due_date = serializers.DateField()

    @extend_schema(
        operation_id="decisions_request_explanation",
        tags=[TAG_CONTESTS],
        summary="Ask for a fuller explanation of a decision (S20)",
        request=InputSerializer,
        responses={201: OutputSerializer, **problem_responses(400, 401, 403, 404, 415, 422)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        data = _input(self, request)
        r = services.explanation_request_file(decision=_decision(request, pk), actor=request.user, **data)
        return Response(self.OutputSerializer(r).data, status=status.HTTP_201_CREATED)
