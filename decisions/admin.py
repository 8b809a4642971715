"""Configuration screens for institution staff. Every write goes through decisions.services, so it is
checked (S1-S3, S6) and audited exactly as through code.

- Systems: created and changed through ``system_create`` / ``system_update_policy`` (the slug, domain and
  impact level are fixed once created: the level follows the impact assessment). Assessments and peer
  reviews are added inline and recorded through their services (a recorded one is never edited). Actions
  "Go live" and "Suspend" call the services; a refusal is shown as an error message listing every problem.
- Versions: created through ``version_create``; features, reason codes and outcomes are added inline through
  their services, in English and Spanish, and are frozen once a decision uses the version (publish a new
  version instead). Existing rows are read-only.
- Decisions and subjects are records (S5): read-only, nothing can be added, changed or deleted here. The
  subject list shows no contact data. A held adverse decision (S2) can be approved by a staff member with a
  staff reference ("Approve as a human decision").
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.errors import ApplicationError
from decisions import policy, services
from decisions.models import (
    Decision,
    DecisionInput,
    DecisionReason,
    DecisionSystem,
    Explanation,
    Feature,
    HumanInvolvement,
    ImpactAssessment,
    Outcome,
    PeerReview,
    ReasonCode,
    Subject,
    SubjectContact,
    SystemVersion,
)


def _report(request: HttpRequest, exc: ApplicationError, what: str) -> None:
    problems = "; ".join(e["message"] for e in exc.errors) or exc.detail
    messages.error(request, f"{what}: {problems}")


def _form_errors(form: forms.BaseForm, problems: list[dict[str, Any]], mapping: dict[str, str]) -> None:
    """Put service field errors onto the form's fields (``mapping``: error path -> form field)."""
    for problem in problems:
        target = next((f for path, f in mapping.items() if problem["field"].endswith(path)), None)
        form.add_error(target if target in form.fields else None, problem["message"])


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AddOnlyInline(admin.TabularInline):
    """Rows can be added (through a service, see ``save_formset``); recorded rows are read-only."""

    extra = 0
    can_delete = False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# ---------------------------------------------------------------------------------------------- systems


class ImpactAssessmentForm(forms.ModelForm):
    class Meta:
        model = ImpactAssessment
        fields = ("score", "max_score", "approver", "approved_on", "summary")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("score") is not None and data.get("max_score") is not None:
            try:
                policy.impact_level_for_score(data["score"], data["max_score"])
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return data


class ImpactAssessmentInline(AddOnlyInline):
    model = ImpactAssessment
    form = ImpactAssessmentForm
    fields = ("score", "max_score", "level", "approver", "approved_on", "summary")
    readonly_fields = ("level",)


class PeerReviewInline(AddOnlyInline):
    model = PeerReview
    fields = ("reviewer", "organisation", "reviewed_on", "summary")


class DecisionSystemForm(forms.ModelForm):
    class Meta:
        model = DecisionSystem
        fields = (
            "slug",
            "name",
            "domain",
            "impact_level",
            "owner_organisation",
            "review_contact_name",
            "review_contact_email",
            "review_contact_phone",
            "purpose",
            "legal_basis",
            "public_explanation",
            "time_zone",
            "appeal_window_days",
            "notice_due_days",
            "notice_period_days",
            "stay_on_appeal",
            "blind_review",
            "four_eyes",
            "review_due_days",
            "oral_hearing_allowed",
            "stop_switch_overturn_rate",
            "stop_switch_min_sample",
            "retention_days",
            "external_routes",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        editable = services.POLICY_FIELDS | (set() if self.instance.pk else services.SYSTEM_CREATE_FIELDS)
        values = {k: v for k, v in data.items() if k in editable}
        probe = DecisionSystem(
            domain=data.get("domain") or self.instance.domain,
            appeal_window_days=self.instance.appeal_window_days,
        )
        problems = services.system_fields_problems(probe, values)
        _form_errors(self, problems, {name: name for name in editable})
        return data


@admin.register(DecisionSystem)
class DecisionSystemAdmin(admin.ModelAdmin):
    form = DecisionSystemForm
    list_display = ("slug", "name", "domain", "impact_level", "status", "went_live_at")
    list_filter = ("status", "domain", "impact_level")
    search_fields = ("slug", "name", "owner_organisation")
    inlines = (ImpactAssessmentInline, PeerReviewInline)
    actions = ("go_live", "suspend")

    def get_readonly_fields(self, request: HttpRequest, obj: DecisionSystem | None = None) -> tuple[str, ...]:
        fixed = ("status", "went_live_at", "created_at")
        if obj is None:
            return fixed
        return (*fixed, "slug", "domain", "impact_level")

    def save_model(
        self, request: HttpRequest, obj: DecisionSystem, form: forms.ModelForm, change: bool
    ) -> None:
        if not change:
            fields = {
                k: v
                for k, v in form.cleaned_data.items()
                if k in services.SYSTEM_CREATE_FIELDS | services.POLICY_FIELDS
            }
            created = services.system_create(actor=request.user, **fields)
            obj.pk = created.pk
            obj._state.adding = False
            return
        changes = {k: form.cleaned_data[k] for k in form.changed_data if k in services.POLICY_FIELDS}
        fresh = DecisionSystem.objects.get(pk=obj.pk)
        if changes:
            services.system_update_policy(system=fresh, changes=changes, actor=request.user)

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        system = DecisionSystem.objects.get(pk=form.instance.pk)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if inline_form.instance.pk is not None or not inline_form.has_changed():
                continue
            data = inline_form.cleaned_data
            try:
                if formset.model is ImpactAssessment:
                    created: Any = services.impact_assessment_record(
                        system=system,
                        score=data["score"],
                        max_score=data["max_score"],
                        approver=data["approver"],
                        approved_on=data["approved_on"],
                        summary=data.get("summary") or "",
                        actor=request.user,
                    )
                elif formset.model is PeerReview:
                    created = services.peer_review_record(
                        system=system,
                        reviewer=data["reviewer"],
                        organisation=data["organisation"],
                        reviewed_on=data["reviewed_on"],
                        summary=data.get("summary") or "",
                        actor=request.user,
                    )
                else:
                    continue
            except ApplicationError as exc:
                _report(request, exc, "Not recorded")
            else:
                formset.new_objects.append(created)

    @admin.action(description="Go live (checks the impact assessment and peer reviews)")
    def go_live(self, request: HttpRequest, queryset: QuerySet[DecisionSystem]) -> None:
        for system in queryset:
            try:
                services.system_go_live(system=system, actor=request.user)
            except ApplicationError as exc:
                _report(request, exc, f"{system.slug} cannot go live")
            else:
                messages.success(request, f"{system.slug} is live.")

    @admin.action(description="Suspend (new adverse outcomes wait for a human)")
    def suspend(self, request: HttpRequest, queryset: QuerySet[DecisionSystem]) -> None:
        for system in queryset:
            try:
                services.system_suspend(system=system, actor=request.user, reason="suspended in the admin")
            except ApplicationError as exc:
                _report(request, exc, f"{system.slug} cannot be suspended")
            else:
                messages.success(request, f"{system.slug} is suspended.")


# ---------------------------------------------------------------------------------------------- versions


class _BilingualForm(forms.ModelForm):
    """Edits ``{"en": ..., "es": ...}`` JSON fields as one text box per language."""

    bilingual: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in self.bilingual:
            current = getattr(self.instance, name, None) or {}
            for lang in services.REQUIRED_LANGUAGES:
                self.fields[f"{name}_{lang}"] = forms.CharField(
                    label=f"{name.replace('_', ' ')} ({lang})", initial=current.get(lang, ""), required=True
                )

    def texts(self, name: str) -> dict[str, str]:
        return {lang: self.cleaned_data.get(f"{name}_{lang}", "") for lang in services.REQUIRED_LANGUAGES}


class FeatureForm(_BilingualForm):
    bilingual = ("label",)

    class Meta:
        model = Feature
        fields = ("name", "data_type", "unit", "source", "context", "actionable", "protected", "legal_basis")

    def spec(self) -> dict[str, Any]:
        return {**{k: self.cleaned_data.get(k) for k in self.Meta.fields}, "label": self.texts("label")}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        version = getattr(self.instance, "version", None)
        if version is not None and not self.errors:
            problems = services.feature_problems(version.system, self.spec(), "feature")
            labels = {f".label.{lang}": f"label_{lang}" for lang in services.REQUIRED_LANGUAGES}
            _form_errors(self, problems, {f".{n}": n for n in self.Meta.fields} | labels)
        return data


class ReasonCodeForm(_BilingualForm):
    bilingual = ("text",)

    class Meta:
        model = ReasonCode
        fields = ("code", "feature")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        feature = data.get("feature")
        if feature is not None and not self.errors:
            spec = {"code": data.get("code"), "feature": feature.name, "text": self.texts("text")}
            problems = services.reason_code_problems(spec, {feature.name}, "reason_code")
            texts = {f".text.{lang}": f"text_{lang}" for lang in services.REQUIRED_LANGUAGES}
            _form_errors(self, problems, {".code": "code", ".feature": "feature"} | texts)
        return data


class OutcomeForm(_BilingualForm):
    bilingual = ("label", "effect")

    class Meta:
        model = Outcome
        fields = ("code", "adverse")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            spec = {"code": data.get("code"), "adverse": bool(data.get("adverse"))}
            spec |= {"label": self.texts("label"), "effect": self.texts("effect")}
            _form_errors(self, services.outcome_problems(spec, "outcome"), {".code": "code"})
        return data


class FeatureInline(AddOnlyInline):
    model = Feature
    form = FeatureForm


class ReasonCodeInline(AddOnlyInline):
    model = ReasonCode
    form = ReasonCodeForm

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "feature":
            version_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            kwargs["queryset"] = Feature.objects.filter(version_id=version_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class OutcomeInline(AddOnlyInline):
    model = Outcome
    form = OutcomeForm


@admin.register(SystemVersion)
class SystemVersionAdmin(admin.ModelAdmin):
    list_display = ("system", "version", "released_at", "has_scorecard")
    list_filter = ("system",)
    list_select_related = ("system",)
    inlines = (FeatureInline, ReasonCodeInline, OutcomeInline)
    fields = (
        "system",
        "version",
        "score_min",
        "score_max",
        "threshold",
        "higher_is_better",
        "logic",
        "performance",
        "fairness",
        "scorecard",
        "released_at",
    )

    @admin.display(boolean=True, description="built-in scorecard")
    def has_scorecard(self, obj: SystemVersion) -> bool:
        return bool(obj.scorecard)

    def get_readonly_fields(self, request: HttpRequest, obj: SystemVersion | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("released_at",)
        return self.fields  # a version is published once; its parts are added below while it is unused

    def get_inlines(self, request: HttpRequest, obj: SystemVersion | None) -> tuple[type[Any], ...]:
        return () if obj is None else self.inlines

    def save_model(
        self, request: HttpRequest, obj: SystemVersion, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            return
        data = form.cleaned_data
        created = services.version_create(
            system=data["system"],
            version=data["version"],
            score_min=data.get("score_min"),
            score_max=data.get("score_max"),
            threshold=data.get("threshold"),
            higher_is_better=data.get("higher_is_better", True),
            logic=data.get("logic") or {},
            performance=data.get("performance") or {},
            fairness=data.get("fairness") or {},
            scorecard=data.get("scorecard"),
            actor=request.user,
        )
        obj.pk = created.pk
        obj._state.adding = False

    def save_formset(self, request: HttpRequest, form: forms.ModelForm, formset: Any, change: bool) -> None:
        version = SystemVersion.objects.get(pk=form.instance.pk)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if inline_form.instance.pk is not None or not inline_form.has_changed():
                continue
            data = inline_form.cleaned_data
            try:
                if formset.model is Feature:
                    created: Any = services.feature_create(
                        version=version, actor=request.user, **inline_form.spec()
                    )
                elif formset.model is ReasonCode:
                    created = services.reason_code_create(
                        version=version,
                        code=data["code"],
                        feature=data["feature"],
                        text=inline_form.texts("text"),
                        actor=request.user,
                    )
                elif formset.model is Outcome:
                    created = services.outcome_create(
                        version=version,
                        actor=request.user,
                        code=data["code"],
                        adverse=data["adverse"],
                        label=inline_form.texts("label"),
                        effect=inline_form.texts("effect"),
                    )
                else:
                    continue
            except ApplicationError as exc:
                _report(request, exc, "Not added")
            else:
                formset.new_objects.append(created)


# ---------------------------------------------------------------------------------------------- records


class DecisionInputInline(ReadOnlyInline):
    model = DecisionInput
    fields = ("feature", "value", "source", "as_of", "disputed")
    readonly_fields = fields


class DecisionReasonInline(ReadOnlyInline):
    model = DecisionReason
    fields = ("rank", "reason_code", "feature", "weight")
    readonly_fields = fields


class HumanInvolvementInline(ReadOnlyInline):
    model = HumanInvolvement
    fields = ("kind", "by", "at")
    readonly_fields = fields


class ExplanationInline(admin.StackedInline):
    model = Explanation
    fields = ("rationale", "responsibility", "data", "counterfactual", "performance", "fairness")
    readonly_fields = fields
    can_delete = False
    max_num = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RecordAdmin(admin.ModelAdmin):
    """Records are immutable (S5): viewable, never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Decision)
class DecisionAdmin(RecordAdmin):
    list_display = ("public_reference", "system", "outcome", "adverse", "status", "automation", "recorded_at")
    list_filter = ("status", "adverse", "automation", "system")
    list_select_related = ("system", "outcome")
    search_fields = ("public_reference", "external_id")
    date_hierarchy = "recorded_at"
    inlines = (DecisionReasonInline, DecisionInputInline, HumanInvolvementInline, ExplanationInline)
    exclude = ("access_code_hash", "payload_hash")
    actions = ("approve_as_human",)

    @admin.action(description="Approve as a human decision (held adverse decisions, S2)")
    def approve_as_human(self, request: HttpRequest, queryset: QuerySet[Decision]) -> None:
        staff_ref = getattr(request.user, "staff_ref", "")
        if not staff_ref:
            messages.error(request, "Your account has no staff reference: ask an administrator to set one.")
            return
        for decision in queryset:
            try:
                services.decision_human_confirm(decision=decision, by=staff_ref, actor=request.user)
            except ApplicationError as exc:
                _report(request, exc, f"{decision.public_reference} not approved")
            else:
                messages.success(request, f"{decision.public_reference} approved; its notice is on its way.")


class SubjectContactInline(ReadOnlyInline):
    model = SubjectContact
    fields = ("name", "email")
    readonly_fields = fields


@admin.register(Subject)
class SubjectAdmin(RecordAdmin):
    """The list shows pseudonyms only; contact data appears on one subject's page, for who may view it."""

    list_display = ("pseudonym", "system", "language", "created_at", "erased_at")
    list_filter = ("system", "language")
    list_select_related = ("system",)
    search_fields = ("pseudonym",)
    fields = ("pseudonym", "system", "external_ref", "language", "created_at", "erased_at")
    readonly_fields = fields
    inlines = (SubjectContactInline,)
