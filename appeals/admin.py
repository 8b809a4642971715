"""Configuration screens for institution staff: queues and members (ordering changes audited through the
service), reviewer training and conflicts. Appeals themselves are read-only here: every step goes through
the services (reviewer pages and the API)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from appeals import services
from appeals.models import Appeal, ConflictDeclaration, Escalation, Queue, QueueMembership, ReviewerTraining
from core.errors import ApplicationError


class QueueMembershipInline(admin.TabularInline):
    model = QueueMembership
    fields = ("user", "role", "added_at")
    readonly_fields = ("added_at",)
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # through the "add member" service, so that it is audited

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ("name", "system", "team", "ordering")
    list_filter = ("system", "ordering")
    inlines = [QueueMembershipInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Queue | None = None) -> tuple[str, ...]:
        return ("system", "team", "created_at") if obj else ("created_at",)

    def save_model(self, request: HttpRequest, obj: Queue, form: Any, change: bool) -> None:
        try:
            if change:
                services.queue_set_ordering(queue=obj, ordering=obj.ordering, actor=request.user)
            else:
                created = services.queue_create(
                    system=obj.system, name=obj.name, team=obj.team, ordering=obj.ordering, actor=request.user
                )
                obj.pk = created.pk
                obj.created_at = created.created_at
        except ApplicationError as exc:
            self.message_user(request, exc.detail, level=messages.ERROR)


@admin.register(ReviewerTraining)
class ReviewerTrainingAdmin(admin.ModelAdmin):
    list_display = ("user", "course", "system", "completed_on", "expires_on")
    list_filter = ("system",)
    readonly_fields = ("recorded_at",)

    def save_model(self, request: HttpRequest, obj: ReviewerTraining, form: Any, change: bool) -> None:
        if change:
            self.message_user(
                request, "Recorded training cannot be edited; record it again.", level=messages.ERROR
            )
            return
        try:
            created = services.reviewer_training_record(
                user=obj.user,
                course=obj.course,
                completed_on=obj.completed_on,
                expires_on=obj.expires_on,
                system=obj.system,
                actor=request.user,
            )
            obj.pk = created.pk
        except ApplicationError as exc:
            self.message_user(request, exc.detail, level=messages.ERROR)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ConflictDeclaration)
class ConflictDeclarationAdmin(ReadOnlyAdmin):
    list_display = ("reviewer", "decision", "subject", "declared_at")


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    list_display = ("appeal", "number", "escalated_at", "missed_due_date", "new_due_date", "acknowledged_at")


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    list_display = ("reference", "status", "decision", "queue", "due_date", "escalated", "claimed_by")
    list_filter = ("status", "escalated", "queue")
    search_fields = ("reference",)
    exclude = (
        "statement",
    )  # the case file is read on the reviewer pages, where opening it is recorded (S21)
