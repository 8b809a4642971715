"""API v1 for integrators: record decisions (one or a batch), read them back, read systems and versions.

Each view is thin: it parses the contract with its nested Input serializer, calls one service or selector,
and answers with its nested Output serializer. Errors are problem details (core.api.errors); every POST
takes an Idempotency-Key (core.api.idempotency). An API key sees only its own systems and their decisions:
anything else is 404, as if it did not exist; recording for another system is 403.

Statuses: ``POST /decisions/`` answers 201 for a new decision and 200 when the same decision was already
recorded under this external id (an idempotent replay); a different decision under a used external id is
409. A refused decision is 422 with an ``errors`` list of dotted field paths ("reasons.1.code"); a body
that does not match the contract's types is 400 (``invalid-request``). The batch answers 200 with one
result per item: ``created``, ``replayed`` or ``refused`` with that item's own problem details.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.auth import IsApiClientOrStaff, api_client_of, client_system_ids
from core.api.errors import field_errors, problem_body, register_problem_type
from core.api.idempotency import IdempotentPostMixin
from core.api.pagination import paginated_response
from core.api.schema import problem_responses
from core.errors import ApplicationError, NotFound
from decisions import selectors, services
from decisions.filters import DecisionFilter
from decisions.models import Decision, HumanInvolvement

TAG_DECISIONS = "decisions"
TAG_SYSTEMS = "systems"

for _code, _title, _status, _description in [
    (
        "decision-refused",
        "The decision was refused",
        422,
        "The decision breaks a safeguard or does not match its system version: an unknown system or "
        "version, an undeclared feature, a feature from an unrelated context or a protected attribute "
        "without a legal basis (S3), missing, generic, unordered or misdirected reasons (S6), an automation "
        "level that the human involvement contradicts (S7), an unknown outcome, a score outside the range, "
        "a date in the future. Each entry of the errors list names the field at fault. Nothing was stored.",
    ),
    (
        "system-not-live",
        "The system is not live",
        422,
        "The decision system has not gone live (it needs an impact assessment and the peer reviews its "
        "impact level requires, S1-S2). Nothing was stored.",
    ),
    (
        "system-not-in-scope",
        "This API key may not record decisions for this system",
        403,
        "Ask the institution to scope your API key to the system.",
    ),
    (
        "external-id-conflict",
        "This external id was already used for a different decision",
        409,
        "External ids are unique per system. Sending the very same decision again returns the recorded one "
        "(200); a different decision needs its own external id, or a correction (supersede).",
    ),
    (
        "subject-create-failed",
        "The people in this batch could not be registered",
        503,
        "A rare transient clash while registering new people. Nothing was stored: retry the request.",
    ),
    (
        "reference-collision",
        "No public reference could be allocated",
        503,
        "A rare transient clash while allocating public references. Nothing was stored: retry the request.",
    ),
    (
        "batch-too-large",
        "Too many decisions in one batch",
        422,
        f"A batch holds at most {services.MAX_BATCH} decisions. Split it.",
    ),
]:
    register_problem_type(_code, title=_title, status=_status, description=_description)


def _actor(request: Request) -> Any:
    return request.user


def _decision_links(request: Request, decision: Decision) -> dict[str, str]:
    return {
        "self": request.build_absolute_uri(reverse("v1:decision-detail", kwargs={"pk": decision.pk})),
        "portal": f"{settings.SITE_URL}/portal/",
    }


PAGE_PARAMETERS = [
    OpenApiParameter("cursor", OpenApiTypes.STR, description="From a previous page's next/previous."),
    OpenApiParameter("page_size", OpenApiTypes.INT, description="At most 500; 50 by default."),
]


def _page_of(name: str, item_serializer: type[serializers.Serializer]) -> Any:
    """The OpenAPI shape of one cursor page of ``item_serializer``."""
    return inline_serializer(
        name,
        {
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item_serializer(many=True),
        },
    )


# ---------------------------------------------------------------------------------------------- contract


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know: a typo ("reason" for "reasons") is an error, never dropped."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [ErrorDetail("This is not a field of the contract.", code="unknown-field")]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that states its zone ("Z" or an offset): a record never guesses the zone."""

    default_error_messages = {"naive": "Give a time zone, for example 2026-01-31T12:00:00Z."}

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str):
            parsed = parse_datetime(value.strip())
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        return super().to_internal_value(value)


class DecisionItemInputSerializer(StrictSerializer):
    """One decision, as the integrator's scoring system sends it (the contract)."""

    @extend_schema_serializer(component_name="DecisionSubjectIn")
    class SubjectSerializer(StrictSerializer):
        external_ref = serializers.CharField(max_length=200, help_text="Your reference for the person.")
        name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        email = serializers.EmailField(required=False, allow_blank=True, default="")
        language = serializers.CharField(
            max_length=16,
            required=False,
            allow_blank=True,
            default="",
            help_text="'en' or 'es' (notices are written in it); a new person without one gets 'en'.",
        )

    @extend_schema_serializer(component_name="DecisionInputIn")
    class InputSerializer(StrictSerializer):
        feature = serializers.CharField(max_length=80, help_text="A feature declared by the system version.")
        value = serializers.JSONField(
            help_text="Number, integer, boolean, category or date, per the feature."
        )
        source = serializers.CharField(  # type: ignore[assignment]
            max_length=200,
            required=False,
            allow_blank=True,
            default="",
            help_text="Defaults to the feature's.",
        )
        as_of = serializers.DateField(required=False, allow_null=True, default=None)

    @extend_schema_serializer(component_name="DecisionReasonIn")
    class ReasonSerializer(StrictSerializer):
        code = serializers.CharField(max_length=40, help_text="A reason code of the system version.")
        feature = serializers.CharField(
            max_length=80, required=False, allow_blank=True, default="", help_text="Defaults to the code's."
        )
        weight = serializers.DecimalField(
            max_digits=None, decimal_places=None, required=False, allow_null=True, default=None
        )

    @extend_schema_serializer(component_name="DecisionCounterfactualIn")
    class CounterfactualSerializer(StrictSerializer):
        feature = serializers.CharField(max_length=80)
        value = serializers.JSONField(help_text="The value that would have changed the outcome.")

    @extend_schema_serializer(component_name="DecisionHumanInvolvementIn")
    class HumanInvolvementSerializer(StrictSerializer):
        kind = serializers.ChoiceField(choices=HumanInvolvement.Kind.choices)
        by = serializers.CharField(max_length=120, help_text="Your staff reference for the person.")
        at = AwareDateTimeField()

    system = serializers.SlugField(max_length=80)
    system_version = serializers.CharField(max_length=40)
    external_id = serializers.CharField(
        max_length=200, help_text="Unique per system; makes recording idempotent."
    )
    subject = SubjectSerializer()
    outcome = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        default="",
        help_text="An outcome code of the version (may be left to a built-in scorecard).",
    )
    score = serializers.DecimalField(
        max_digits=None, decimal_places=None, required=False, allow_null=True, default=None
    )
    inputs = InputSerializer(many=True)
    reasons = ReasonSerializer(
        many=True,
        required=False,
        default=list,
        help_text="1 to 4 principal reasons for an adverse outcome, heaviest first (S6).",
    )
    counterfactuals = CounterfactualSerializer(many=True, required=False, default=list)
    human_involvement = HumanInvolvementSerializer(
        many=True,
        required=False,
        default=list,
        help_text="Each human step; the automation flags are derived from these (S7).",
    )
    automation_level = serializers.ChoiceField(
        choices=Decision.Automation.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text="Optional: checked against the level the human involvement gives.",
    )
    decided_at = AwareDateTimeField()


class RecordedDecisionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    public_reference = serializers.CharField()
    external_id = serializers.CharField()
    system = serializers.CharField(source="system.slug")
    outcome = serializers.CharField(source="outcome.code")
    adverse = serializers.BooleanField()
    status = serializers.ChoiceField(choices=Decision.Status.choices)
    recorded_at = serializers.DateTimeField()
    links = serializers.SerializerMethodField()

    def get_links(self, decision: Decision) -> dict[str, str]:
        return _decision_links(self.context["request"], decision)


# ---------------------------------------------------------------------------------------------- decisions


class DecisionsApi(IdempotentPostMixin, APIView):
    """``POST /api/v1/decisions/`` records one decision; ``GET`` lists the decisions the caller may see."""

    permission_classes = [IsApiClientOrStaff]
    cursor_ordering = "-id"  # uuid7: time-ordered and unique

    @extend_schema_serializer(component_name="DecisionListItem")
    class ListOutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        public_reference = serializers.CharField()
        external_id = serializers.CharField()
        system = serializers.CharField(source="system.slug")
        system_version = serializers.CharField(source="version.version")
        subject = serializers.CharField(source="subject.pseudonym")
        outcome = serializers.CharField(source="outcome.code")
        adverse = serializers.BooleanField()
        score = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
        automation = serializers.CharField()
        status = serializers.CharField()
        decided_at = serializers.DateTimeField()
        recorded_at = serializers.DateTimeField()
        effective_at = serializers.DateTimeField(allow_null=True)
        links = serializers.SerializerMethodField()

        def get_links(self, decision: Decision) -> dict[str, str]:
            return _decision_links(self.context["request"], decision)

    @extend_schema(
        operation_id="decisions_record",
        tags=[TAG_DECISIONS],
        summary="Record a decision",
        request=DecisionItemInputSerializer,
        responses={
            201: RecordedDecisionOutputSerializer,
            200: RecordedDecisionOutputSerializer,
            **problem_responses(400, 401, 403, 409, 415, 422, 429),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = DecisionItemInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.decision_record(
            data=dict(serializer.validated_data), actor=_actor(request), client=api_client_of(request)
        )
        body = RecordedDecisionOutputSerializer(result.decision, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @extend_schema(
        operation_id="decisions_list",
        tags=[TAG_DECISIONS],
        summary="List decisions (newest first, cursor-paginated)",
        parameters=[
            OpenApiParameter("system", OpenApiTypes.STR, description="A system's slug."),
            OpenApiParameter("outcome", OpenApiTypes.STR, description="An outcome code."),
            OpenApiParameter("status", OpenApiTypes.STR, enum=Decision.Status.values),
            OpenApiParameter("adverse", OpenApiTypes.BOOL),
            OpenApiParameter("subject", OpenApiTypes.STR, description="Pseudonym or your reference."),
            OpenApiParameter("external_id", OpenApiTypes.STR),
            OpenApiParameter("decided_after", OpenApiTypes.DATETIME, description="Inclusive."),
            OpenApiParameter("decided_before", OpenApiTypes.DATETIME, description="Exclusive."),
            *PAGE_PARAMETERS,
        ],
        responses={
            200: _page_of("DecisionPage", ListOutputSerializer),
            **problem_responses(400, 401, 403, 429),
        },
    )
    def get(self, request: Request) -> Response:
        queryset = selectors.decision_list(system_ids=client_system_ids(request))
        filterset = DecisionFilter(request.query_params, queryset=queryset)
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        return paginated_response(
            request=request, view=self, queryset=filterset.qs, serializer_class=self.ListOutputSerializer
        )


class DecisionBatchApi(IdempotentPostMixin, APIView):
    """``POST /api/v1/decisions/batch/``: up to 1,000 decisions, each accepted or refused on its own."""

    permission_classes = [IsApiClientOrStaff]

    @extend_schema_serializer(component_name="DecisionBatch")
    class InputSerializer(serializers.Serializer):
        items = DecisionItemInputSerializer(many=True, max_length=services.MAX_BATCH)  # type: ignore[call-arg]

    @extend_schema_serializer(component_name="DecisionBatchResults")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="DecisionBatchItemResult")
        class ItemSerializer(serializers.Serializer):
            index = serializers.IntegerField()
            result = serializers.ChoiceField(choices=["created", "replayed", "refused"])
            decision = RecordedDecisionOutputSerializer(allow_null=True)
            problem = serializers.JSONField(allow_null=True, help_text="Problem details of a refused item.")

        results = ItemSerializer(many=True)
        summary = inline_serializer(
            "DecisionBatchSummary",
            {
                "created": serializers.IntegerField(),
                "replayed": serializers.IntegerField(),
                "refused": serializers.IntegerField(),
            },
        )

    @extend_schema(
        operation_id="decisions_record_batch",
        tags=[TAG_DECISIONS],
        summary="Record up to 1,000 decisions",
        request=InputSerializer,
        responses={200: OutputSerializer, **problem_responses(400, 401, 415, 422, 429)},
    )
    def post(self, request: Request) -> Response:
        data = request.data
        raw_items = data.get("items") if isinstance(data, dict) else data
        if not isinstance(raw_items, list):
            raise serializers.ValidationError(
                {"items": ['Send {"items": [...]} with up to 1,000 decisions.']}
            )
        if len(raw_items) > services.MAX_BATCH:
            raise services.BatchTooLarge(
                f"At most {services.MAX_BATCH} decisions per batch; this one has {len(raw_items)}."
            )
        problems: dict[int, ApplicationError] = {}
        valid: list[tuple[int, dict[str, Any]]] = []
        for index, raw in enumerate(raw_items):
            item = DecisionItemInputSerializer(data=raw)
            if item.is_valid():
                valid.append((index, dict(item.validated_data)))
            else:
                found = field_errors(item.errors)
                problems[index] = ApplicationError(
                    f"{len(found)} field(s) missing or invalid: see errors.",
                    code="invalid-request",
                    status=400,
                    title="Some fields are missing or invalid",
                    errors=found,
                )
        results = services.decision_record_many(
            items=[item for _, item in valid], actor=_actor(request), client=api_client_of(request)
        )
        by_index = {valid[r.index][0]: r for r in results}
        out = []
        for index in range(len(raw_items)):
            result = by_index.get(index)
            error = problems.get(index) or (result.error if result else None)
            if error is not None:
                problem = problem_body(error, instance=f"{request.path}#items/{index}")
                out.append({"index": index, "result": "refused", "decision": None, "problem": problem})
            elif result is not None and result.decision is not None:
                decision = RecordedDecisionOutputSerializer(
                    result.decision, context={"request": request}
                ).data
                kind = "created" if result.created else "replayed"
                out.append({"index": index, "result": kind, "decision": decision, "problem": None})
        summary = {k: sum(1 for r in out if r["result"] == k) for k in ("created", "replayed", "refused")}
        return Response({"results": out, "summary": summary}, status=status.HTTP_200_OK)


class DecisionDetailApi(APIView):
    """``GET /api/v1/decisions/{id}/``: the full record with inputs, reasons and explanation."""

    permission_classes = [IsApiClientOrStaff]

    @extend_schema_serializer(component_name="DecisionRecord")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="DecisionRecordInput")
        class InputSerializer(serializers.Serializer):
            feature = serializers.CharField(source="feature.name")
            value = serializers.JSONField()
            source = serializers.CharField()  # type: ignore[assignment]
            as_of = serializers.DateField(allow_null=True)
            disputed = serializers.BooleanField()

        @extend_schema_serializer(component_name="DecisionRecordReason")
        class ReasonSerializer(serializers.Serializer):
            rank = serializers.IntegerField()
            code = serializers.CharField(source="reason_code.code")
            feature = serializers.CharField(source="feature.name")
            weight = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
            text = serializers.JSONField(source="reason_code.text")

        @extend_schema_serializer(component_name="DecisionRecordHumanInvolvement")
        class HumanInvolvementSerializer(serializers.Serializer):
            kind = serializers.CharField()
            by = serializers.CharField()
            at = serializers.DateTimeField()

        @extend_schema_serializer(component_name="DecisionExplanation")
        class ExplanationSerializer(serializers.Serializer):
            rationale = serializers.JSONField()
            responsibility = serializers.JSONField()
            data = serializers.JSONField()  # type: ignore[assignment]
            counterfactual = serializers.JSONField()
            performance = serializers.JSONField()
            fairness = serializers.JSONField()

        @extend_schema_serializer(component_name="DecisionRecordSubject")
        class SubjectSerializer(serializers.Serializer):
            pseudonym = serializers.CharField()
            external_ref = serializers.CharField()
            language = serializers.CharField()

        id = serializers.UUIDField()
        public_reference = serializers.CharField()
        external_id = serializers.CharField()
        system = serializers.CharField(source="system.slug")
        system_version = serializers.CharField(source="version.version")
        subject = SubjectSerializer()
        outcome = serializers.CharField(source="outcome.code")
        outcome_label = serializers.JSONField(source="outcome.label")
        adverse = serializers.BooleanField()
        score = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
        score_min = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
        score_max = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
        threshold = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
        band = serializers.CharField()
        automation = serializers.CharField()
        automated_detection = serializers.BooleanField()
        automated_decision = serializers.BooleanField()
        status = serializers.CharField()
        decided_at = serializers.DateTimeField()
        recorded_at = serializers.DateTimeField()
        effective_at = serializers.DateTimeField(allow_null=True)
        supersedes = serializers.UUIDField(source="supersedes_id", allow_null=True)
        superseded_by = serializers.SerializerMethodField()
        inputs_hash = serializers.CharField()
        inputs = InputSerializer(many=True)
        reasons = ReasonSerializer(many=True)
        human_involvement = HumanInvolvementSerializer(many=True)
        counterfactuals = serializers.JSONField()
        explanation = ExplanationSerializer(allow_null=True)
        links = serializers.SerializerMethodField()

        def get_superseded_by(self, decision: Decision) -> str | None:
            successor = getattr(decision, "superseded_by", None)
            return str(successor.pk) if successor is not None else None

        def get_links(self, decision: Decision) -> dict[str, str]:
            return _decision_links(self.context["request"], decision)

        def to_representation(self, instance: Decision) -> dict[str, Any]:
            if not hasattr(instance, "explanation"):  # a record from before explanations were stored
                instance.explanation = None
            return super().to_representation(instance)

    @extend_schema(
        operation_id="decisions_retrieve",
        tags=[TAG_DECISIONS],
        summary="Read a decision's full record",
        responses={200: OutputSerializer, **problem_responses(401, 403, 404, 429)},
    )
    def get(self, request: Request, pk: Any) -> Response:
        decision = selectors.decision_get(decision_id=pk, system_ids=client_system_ids(request))
        if decision is None:
            raise NotFound("No decision with this id is visible to you.")
        return Response(self.OutputSerializer(decision, context={"request": request}).data)


class DecisionSupersedeApi(IdempotentPostMixin, APIView):
    """``POST /api/v1/decisions/{id}/supersede/``: record a correction that replaces the decision (S5)."""

    permission_classes = [IsApiClientOrStaff]

    @extend_schema(
        operation_id="decisions_supersede",
        tags=[TAG_DECISIONS],
        summary="Correct a decision: a new decision that supersedes it",
        request=DecisionItemInputSerializer,
        responses={
            201: RecordedDecisionOutputSerializer,
            200: RecordedDecisionOutputSerializer,
            **problem_responses(400, 401, 403, 404, 409, 415, 422, 429),
        },
    )
    def post(self, request: Request, pk: Any) -> Response:
        old = selectors.decision_list(system_ids=client_system_ids(request)).filter(pk=pk).first()
        if old is None:
            raise NotFound("No decision with this id is visible to you.")
        serializer = DecisionItemInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.decision_supersede(
            decision=old,
            data=dict(serializer.validated_data),
            actor=_actor(request),
            client=api_client_of(request),
        )
        body = RecordedDecisionOutputSerializer(result.decision, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


# ---------------------------------------------------------------------------------------------- systems


class SystemListApi(APIView):
    """``GET /api/v1/systems/``: the systems the caller may see."""

    permission_classes = [IsApiClientOrStaff]
    cursor_ordering = "slug"

    @extend_schema_serializer(component_name="SystemListItem")
    class OutputSerializer(serializers.Serializer):
        slug = serializers.SlugField()
        name = serializers.CharField()
        domain = serializers.CharField()
        impact_level = serializers.IntegerField()
        status = serializers.CharField()
        owner_organisation = serializers.CharField()
        links = serializers.SerializerMethodField()

        def get_links(self, system: Any) -> dict[str, str]:
            request = self.context["request"]
            return {
                "self": request.build_absolute_uri(reverse("v1:system-detail", kwargs={"slug": system.slug}))
            }

    @extend_schema(
        operation_id="systems_list",
        tags=[TAG_SYSTEMS],
        summary="List decision systems",
        parameters=PAGE_PARAMETERS,
        responses={
            200: _page_of("SystemPage", OutputSerializer),
            **problem_responses(401, 403, 429),
        },
    )
    def get(self, request: Request) -> Response:
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.system_list(system_ids=client_system_ids(request)),
            serializer_class=self.OutputSerializer,
        )


class SystemDetailApi(APIView):
    """``GET /api/v1/systems/{slug}/``: a system, its policy settings and its versions."""

    permission_classes = [IsApiClientOrStaff]

    @extend_schema_serializer(component_name="SystemDetail")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="SystemVersionSummary")
        class VersionSerializer(serializers.Serializer):
            version = serializers.CharField()
            released_at = serializers.DateTimeField(allow_null=True)
            scorecard = serializers.SerializerMethodField()
            links = serializers.SerializerMethodField()

            def get_scorecard(self, version: Any) -> bool:
                return bool(version.scorecard)

            def get_links(self, version: Any) -> dict[str, str]:
                request = self.context["request"]
                url = reverse(
                    "v1:system-version-detail",
                    kwargs={"slug": version.system.slug, "version": version.version},
                )
                return {"self": request.build_absolute_uri(url)}

        slug = serializers.SlugField()
        name = serializers.CharField()
        domain = serializers.CharField()
        impact_level = serializers.IntegerField()
        status = serializers.CharField()
        went_live_at = serializers.DateTimeField(allow_null=True)
        owner_organisation = serializers.CharField()
        review_contact_name = serializers.CharField()
        review_contact_email = serializers.EmailField()
        purpose = serializers.CharField()
        legal_basis = serializers.CharField()
        public_explanation = serializers.CharField()
        policy = serializers.SerializerMethodField()
        versions = VersionSerializer(many=True)

        def get_policy(self, system: Any) -> dict[str, Any]:
            return {
                "appeal_window_days": system.appeal_window_days,
                "notice_due_days": system.notice_due_days,
                "notice_period_days": system.notice_period_days,
                "stay_on_appeal": system.stay_on_appeal,
                "blind_review": system.blind_review,
                "four_eyes": system.requires_four_eyes,
                "review_due_days": system.review_due_days,
                "oral_hearing_allowed": system.oral_hearing_allowed,
                "human_decision_for_adverse": system.requires_human_decision_for_adverse,
                "time_zone": system.time_zone,
                "external_routes": system.external_routes,
            }

    @extend_schema(
        operation_id="systems_retrieve",
        tags=[TAG_SYSTEMS],
        summary="Read a decision system",
        responses={200: OutputSerializer, **problem_responses(401, 403, 404, 429)},
    )
    def get(self, request: Request, slug: str) -> Response:
        system = selectors.system_get(slug=slug, system_ids=client_system_ids(request))
        if system is None:
            raise NotFound("No system with this slug is visible to you.")
        for version in system.versions.all():
            version.system = system  # links need the slug; no query per version
        return Response(self.OutputSerializer(system, context={"request": request}).data)


class SystemVersionDetailApi(APIView):
    """``GET /api/v1/systems/{slug}/versions/{version}/``: what a version accepts and how it explains."""

    permission_classes = [IsApiClientOrStaff]

    @extend_schema_serializer(component_name="SystemVersionDetail")
    class OutputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="SystemFeature")
        class FeatureSerializer(serializers.Serializer):
            name = serializers.CharField()
            label = serializers.JSONField()  # type: ignore[assignment]
            data_type = serializers.CharField()
            unit = serializers.CharField()
            source = serializers.CharField()  # type: ignore[assignment]
            context = serializers.CharField()  # type: ignore[assignment]
            actionable = serializers.BooleanField()
            protected = serializers.BooleanField()
            legal_basis = serializers.CharField()

        @extend_schema_serializer(component_name="SystemReasonCode")
        class ReasonCodeSerializer(serializers.Serializer):
            code = serializers.CharField()
            feature = serializers.CharField(source="feature.name")
            text = serializers.JSONField()

        @extend_schema_serializer(component_name="SystemOutcome")
        class OutcomeSerializer(serializers.Serializer):
            code = serializers.CharField()
            label = serializers.JSONField()  # type: ignore[assignment]
            effect = serializers.JSONField()
            adverse = serializers.BooleanField()

        system = serializers.CharField(source="system.slug")
        version = serializers.CharField()
        released_at = serializers.DateTimeField(allow_null=True)
        score_min = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
        score_max = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
        threshold = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
        higher_is_better = serializers.BooleanField()
        logic = serializers.JSONField()
        performance = serializers.JSONField()
        fairness = serializers.JSONField()
        scorecard = serializers.JSONField(allow_null=True)
        features = FeatureSerializer(many=True)
        reason_codes = ReasonCodeSerializer(many=True)
        outcomes = OutcomeSerializer(many=True)

    @extend_schema(
        operation_id="systems_versions_retrieve",
        tags=[TAG_SYSTEMS],
        summary="Read a system version: features, reason codes, outcomes, public explanation",
        responses={200: OutputSerializer, **problem_responses(401, 403, 404, 429)},
    )
    def get(self, request: Request, slug: str, version: str) -> Response:
        found = selectors.version_get(slug=slug, version=version, system_ids=client_system_ids(request))
        if found is None:
            raise NotFound("No such version of a system visible to you.")
        return Response(self.OutputSerializer(found, context={"request": request}).data)
