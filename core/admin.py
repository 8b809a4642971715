"""Admin for API clients and keys. Every write goes through core.apikeys; keys are never displayed
(only the prefix that identifies them); a new key is shown once, on a page that is not cached."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from core import apikeys
from core.errors import ApplicationError
from core.models import ApiClient, ApiKey


def _key_page(request: HttpRequest, client: ApiClient, plaintext: str) -> HttpResponse:
    response = TemplateResponse(
        request,
        "admin/core/api_key_issued.html",
        {**admin.site.each_context(request), "client": client, "plaintext": plaintext},
    )
    add_never_cache_headers(response)
    return response


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    fields = ("masked", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    @admin.display(description="key")
    def masked(self, obj: ApiKey) -> str:
        return f"{apikeys.KEY_SCHEME}_{obj.prefix}_…"


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ("name", "system_slugs", "active_keys", "created_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name",)
    actions = ("issue_key", "revoke_clients")

    def get_fields(self, request: HttpRequest, obj: ApiClient | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("name", "contact_email")
        return ("name", "contact_email", "system_slugs", "created_at", "revoked_at")

    def get_readonly_fields(self, request: HttpRequest, obj: ApiClient | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return ("name", "contact_email", "system_slugs", "created_at", "revoked_at")

    def get_inlines(self, request: HttpRequest, obj: ApiClient | None) -> tuple[type[ApiKeyInline], ...]:
        return () if obj is None else (ApiKeyInline,)

    def has_delete_permission(self, request: HttpRequest, obj: ApiClient | None = None) -> bool:
        return False  # revoke instead: the audit trail keeps pointing at the client

    @admin.display(description="systems")
    def system_slugs(self, obj: ApiClient) -> str:
        return ", ".join(obj.systems.order_by("slug").values_list("slug", flat=True)) or "-"

    @admin.display(description="active keys")
    def active_keys(self, obj: ApiClient) -> int:
        return obj.keys.filter(revoked_at__isnull=True).count()

    def save_model(self, request: HttpRequest, obj: ApiClient, form: ModelForm, change: bool) -> None:
        if change:
            return  # every field is read-only once created
        client, plaintext = apikeys.api_client_create(
            name=obj.name, contact_email=obj.contact_email, actor=request.user
        )
        obj.pk, obj.created_at = client.pk, client.created_at
        request._issued_key = plaintext  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: ApiClient, post_url_continue: str | None = None
    ) -> HttpResponse:
        plaintext = getattr(request, "_issued_key", None)
        if plaintext:
            messages.info(request, "Link the client to its decision systems on each system's page.")
            return _key_page(request, obj, plaintext)
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description="Issue a new key (shown once)", permissions=["change"])
    def issue_key(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one client to issue a key.", messages.WARNING)
            return None
        client = queryset.get()
        try:
            _key, plaintext = apikeys.api_key_issue(client=client, actor=request.user)
        except ApplicationError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return None
        return _key_page(request, client, plaintext)

    @admin.action(description="Revoke the selected clients and all their keys", permissions=["change"])
    def revoke_clients(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset:
            apikeys.api_client_revoke(client=client, actor=request.user)
        self.message_user(request, f"Revoked {queryset.count()} client(s).", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("masked", "client", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("client",)
    search_fields = ("prefix", "client__name")
    fields = ("masked", "client", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke_keys",)

    @admin.display(description="key")
    def masked(self, obj: ApiKey) -> str:
        return f"{apikeys.KEY_SCHEME}_{obj.prefix}_…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are issued from their client ("Issue a new key")

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ApiKey, form: ModelForm, change: bool) -> None:
        return  # read-only: revoke with the action

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            apikeys.api_key_revoke(key=key, actor=request.user)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)
