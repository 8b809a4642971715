"""``{% say "key" name=value %}``: a text of the page's language with values filled in (each escaped)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString

from portal.text import TEXT

register = template.Library()


@register.simple_tag(takes_context=True)
def say(context: template.Context, key: str, **params: Any) -> SafeString:
    lang = context.get("lang") or "en"
    if not params:
        return SafeString(conditional_escape(TEXT[lang][key]))
    return format_html(TEXT[lang][key], **params)
