"""Admin for the fairness store (S32): visible only to users given its model permissions.

Read-only here: group data is loaded through ``oversight.services.group_attributes_record`` (which checks
the source and lawful basis and audits counts) and erased through ``group_attributes_erase``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from oversight.models import GroupAttribute


@admin.register(GroupAttribute)
class GroupAttributeAdmin(admin.ModelAdmin):
    list_display = ("subject_pseudonym", "attribute", "value", "source", "recorded_at")
    list_filter = ("attribute",)
    search_fields = ("subject_pseudonym",)
    readonly_fields = ("subject_pseudonym", "attribute", "value", "source", "lawful_basis", "recorded_at")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
