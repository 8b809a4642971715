"""Security headers for the public portal pages.

``portal_page`` sets, on every portal response:
- a strict Content-Security-Policy: only this site's own stylesheet and images, no scripts at all, forms
  post only back here, never framed;
- ``Permissions-Policy``: no camera, microphone, location or payment;
- ``Cache-Control: no-store``: a shared computer must not keep a person's decision in its cache;
- ``Referrer-Policy: same-origin``: nothing of a portal address goes to another site. Not ``no-referrer``
  on pages with forms: browsers then send ``Origin: null`` with the POST and CSRF protection refuses it.
  The signed-link address itself answers with ``no-referrer`` (``no_referrer``): it only redirects.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

R = TypeVar("R", bound=HttpResponseBase)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

View = Callable[..., HttpResponse]


def secure_headers(response: R) -> R:
    """The portal's headers. A view may have set a stricter policy of its own (file downloads add
    ``sandbox``); it is kept."""
    response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response["Cache-Control"] = "no-store"
    response.setdefault("Referrer-Policy", "same-origin")
    response["X-Content-Type-Options"] = "nosniff"
    response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    return response


def portal_page(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return secure_headers(view(request, *args, **kwargs))

    return wrapper


def no_referrer(response: HttpResponse) -> HttpResponse:
    response["Referrer-Policy"] = "no-referrer"
    return response
