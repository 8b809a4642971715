"""Number formats for the oversight pages (the same as the charts' and their tables')."""

from __future__ import annotations

import json
from typing import Any

from django import template

from oversight import access, charts

register = template.Library()


@register.filter
def pct(value: float | None) -> str:
    return charts.percent(value)


@register.filter
def duration(seconds: float | None) -> str:
    return charts.days(seconds)


@register.filter
def ratio(value: float | None) -> str:
    return charts.ratio(value)


@register.filter
def as_json(value: Any) -> str:
    """Audit data as compact JSON (escaped by the template like any text)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def sees_reviewer_figures(user: Any) -> bool:
    return access.can_view_reviewer_figures(user)


@register.filter
def may_refresh_figures(user: Any) -> bool:
    return access.can_refresh_figures(user)
