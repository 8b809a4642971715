"""What every portal page shares: drawing a page in the person's language, and the session check.

``render_page`` gives templates ``t`` (the texts of the page's language), ``lang``, ``v`` (the visitor, or
None before the way in) and a one-time ``flash`` message (a success banner after an action).

``person_page`` wraps a view that needs a portal session: it answers with the portal's security headers
(portal.security) and sends a person with no (longer a) session back to the way in, telling them they were
signed out when their browser still had a session cookie.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from portal import uploads
from portal.security import secure_headers
from portal.session import Visitor, visitor
from portal.text import TEXT

FLASH_KEY = "portal_flash"


def flash(request: HttpRequest, key: str, **params: str) -> None:
    """A message for the next page the person sees (a success banner)."""
    request.session[FLASH_KEY] = {"key": key, "params": params}


def render_page(
    request: HttpRequest,
    template: str,
    lang: str,
    *,
    status: int = 200,
    v: Visitor | None = None,
    **context: Any,
) -> HttpResponse:
    note = request.session.pop(FLASH_KEY, None) if hasattr(request, "session") else None
    message = ""
    if isinstance(note, dict) and note.get("key") in TEXT[lang]:
        message = TEXT[lang][str(note["key"])].format_map(_Params(note.get("params") or {}))
    base: dict[str, Any] = {"t": TEXT[lang], "lang": lang, "v": v, "flash": message, "errors": []}
    response = render(request, template, {**base, **context}, status=status)
    response["Content-Language"] = lang  # the page's language, whatever the browser asked for
    return response


class _Params(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


PersonView = Callable[..., HttpResponseBase]


def person_page(view: PersonView) -> Callable[..., HttpResponseBase]:
    """The view is called as ``view(request, v, *args, **kwargs)`` with the visitor."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        v = visitor(request)
        if v is None:
            url = reverse("portal:start")
            if settings.SESSION_COOKIE_NAME in request.COOKIES:
                url += "?signed-out=1"
            return secure_headers(HttpResponseRedirect(url))
        response: HttpResponseBase
        try:
            response = view(request, v, *args, **kwargs)
        except Http404:
            response = render_page(request, "portal/not_found.html", v.lang, status=404, v=v)
        return secure_headers(response)

    return wrapper


def accepts_files(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """For views that take evidence files: the capped upload handler must be set before anything reads the
    body, and CsrfViewMiddleware reads it. So the view is exempt from the middleware's check and checks
    CSRF itself, after setting the handler (Django's documented way)."""
    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST":
            uploads.use_capped_uploads(request)
        return protected(request, *args, **kwargs)

    return wrapper
