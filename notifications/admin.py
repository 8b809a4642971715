"""Admin for the outbox. Notices and webhook messages are records of what was sent: read-only here (the
staff Outbox page has the follow-up actions). Webhook endpoints are configuration: created through
notifications.webhooks so the secret is generated, audited and shown exactly once."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from core.errors import ApplicationError
from notifications import webhooks
from notifications.models import DeliveryAttempt, Notice, WebhookAttempt, WebhookEndpoint, WebhookMessage


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeliveryAttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    fields = ("number", "started_at", "finished_at", "outcome", "error")
    readonly_fields = fields


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "kind",
        "recipient",
        "channel",
        "language",
        "status",
        "attempts",
        "due_at",
        "delivered_at",
        "needs_attention",
    )
    list_filter = ("status", "channel", "kind", "needs_attention", "language")
    search_fields = ("=id", "=recipient", "=topic_id", "dedupe_key")
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = (DeliveryAttemptInline,)
    fields = (
        "id",
        "kind",
        "topic_type",
        "topic_id",
        "recipient",
        "channel",
        "language",
        "to_address",
        "subject",
        "body_text",
        "body_html",
        "template_key",
        "template_version",
        "status",
        "attempts",
        "next_attempt_at",
        "sending_started_at",
        "sent_at",
        "due_at",
        "created_at",
        "delivered_at",
        "last_error",
        "needs_attention",
        "dedupe_key",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notice]:
        qs = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name == "notifications_notice_changelist":
            qs = qs.defer("body_text", "body_html")
        return qs


class WebhookEndpointForm(forms.ModelForm):
    event_types = forms.CharField(
        required=False,
        help_text="Comma-separated, e.g. decision.effective, decision.reversed. Empty: every event.",
    )
    url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ("client", "url", "event_types", "active", "description")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["event_types"] = ", ".join(self.instance.event_types)

    def clean_event_types(self) -> list[str]:
        raw = self.cleaned_data.get("event_types") or ""
        return [t.strip() for t in raw.split(",") if t.strip()]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        errors = webhooks.url_errors(url)
        if errors:
            raise forms.ValidationError(errors[0]["message"])
        return str(url)


def _secret_page(request: HttpRequest, endpoint: WebhookEndpoint, secret: str) -> HttpResponse:
    response = TemplateResponse(
        request,
        "admin/notifications/webhook_secret.html",
        {**admin.site.each_context(request), "endpoint": endpoint, "secret": secret},
    )
    add_never_cache_headers(response)
    return response


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("url", "client", "active", "event_list", "masked_secret", "created_at")
    list_filter = ("active",)
    list_select_related = ("client",)
    search_fields = ("url", "client__name")
    readonly_fields = ("masked_secret", "created_at")
    actions = ("rotate_secret",)

    def get_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> tuple[str, ...]:
        base = ("client", "url", "event_types", "active", "description")
        return base if obj is None else (*base, "masked_secret", "created_at")

    @admin.display(description="secret")
    def masked_secret(self, obj: WebhookEndpoint) -> str:
        return (
            f"{webhooks.SECRET_PREFIX}{obj.secret.removeprefix(webhooks.SECRET_PREFIX)[:4]}…"
            if obj.secret
            else "-"
        )

    @admin.display(description="events")
    def event_list(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.event_types) or "all"

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        endpoint, secret = webhooks.webhook_endpoint_create(
            client=obj.client,
            url=obj.url,
            event_types=obj.event_types,
            description=obj.description,
            actor=request.user,
        )
        if not obj.active:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
        obj.pk, obj.secret, obj.created_at = endpoint.pk, endpoint.secret, endpoint.created_at
        request._webhook_secret = secret  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue: str | None = None
    ) -> HttpResponse:
        secret = getattr(request, "_webhook_secret", None)
        if secret:
            return _secret_page(request, obj, secret)
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description="Rotate the signing secret (shown once)", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one endpoint.", messages.WARNING)
            return None
        endpoint = queryset.select_related("client").get()
        secret = webhooks.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=request.user)
        return _secret_page(request, endpoint, secret)


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ("number", "started_at", "finished_at", "outcome", "response_status", "duration_ms", "error")
    readonly_fields = fields


@admin.register(WebhookMessage)
class WebhookMessageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "event_type", "endpoint", "status", "attempts", "delivered_at")
    list_filter = ("status", "event_type")
    list_select_related = ("endpoint", "endpoint__client")
    search_fields = ("=id", "event_type")
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = (WebhookAttemptInline,)
    fields = (
        "id",
        "endpoint",
        "event_type",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "sending_started_at",
        "created_at",
        "delivered_at",
        "last_error",
    )
    readonly_fields = fields
    actions = ("retry_failed",)

    @admin.action(description="Send the selected failed messages again")
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[WebhookMessage]) -> None:
        done = 0
        for message in queryset:
            try:
                webhooks.webhook_message_retry(message_id=message.pk, actor=request.user)
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"{message.pk}: {exc.detail}", messages.WARNING)
        self.message_user(request, f"{done} message(s) queued again.", messages.SUCCESS)
