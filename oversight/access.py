"""Who may see what in oversight (S23, S32, S33).

- Oversight pages (figures, fairness, audit log, pseudonymised decision and appeal lists, transparency
  report): senior reviewers, auditors and administrators (group ``admin`` or superuser).
- Reviewer figures (S23): senior reviewers and administrators only.
- Individual group-attribute records (S32): only users holding the model permission
  ``oversight.view_groupattribute`` (given in the admin); everyone else sees aggregates.
- Auditors read everything and change nothing: ``oversight.middleware.AuditorReadOnlyMiddleware`` refuses
  every unsafe request from a member of the ``auditor`` group, whatever the view.

Group names are compared without case, spaces, hyphens or underscores ("Senior reviewer" = "senior_reviewer").
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

SENIOR = "seniorreviewer"
AUDITOR = "auditor"
ADMIN = "admin"
VIEW_GROUPS = frozenset({SENIOR, AUDITOR, ADMIN})
REVIEWER_FIGURE_GROUPS = frozenset({SENIOR, ADMIN})

V = TypeVar("V", bound=Callable[..., HttpResponse])


def normalise(name: str) -> str:
    return name.lower().replace(" ", "").replace("_", "").replace("-", "")


def groups(user: Any) -> frozenset[str]:
    if not getattr(user, "is_authenticated", False) or not hasattr(user, "groups"):
        return frozenset()
    cached = getattr(user, "_oversight_groups", None)
    if cached is None:
        cached = frozenset(normalise(n) for n in user.groups.values_list("name", flat=True))
        user._oversight_groups = cached
    return cast(frozenset[str], cached)


def _active(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def can_view_oversight(user: Any) -> bool:
    return _active(user) and (bool(user.is_superuser) or bool(groups(user) & VIEW_GROUPS))


def can_view_reviewer_figures(user: Any) -> bool:
    return _active(user) and (bool(user.is_superuser) or bool(groups(user) & REVIEWER_FIGURE_GROUPS))


def can_refresh_figures(user: Any) -> bool:
    """Recomputing the rollups now (they are derived data): senior reviewers and administrators."""
    return can_view_reviewer_figures(user)


def is_auditor(user: Any) -> bool:
    """A member of the auditor group: read-only everywhere (a superuser is never held back)."""
    return _active(user) and not user.is_superuser and AUDITOR in groups(user)


def can_view_group_records(user: Any) -> bool:
    return _active(user) and bool(user.has_perm("oversight.view_groupattribute"))


def _guard(test: Callable[[Any], bool], message: str) -> Callable[[V], V]:
    def decorator(view: V) -> V:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not test(request.user):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return cast(V, login_required(wrapped))

    return decorator


oversight_viewer = _guard(
    can_view_oversight, "Oversight is for senior reviewers, auditors and administrators."
)
reviewer_figures_viewer = _guard(
    can_view_reviewer_figures, "Reviewer figures are shown to senior reviewers and administrators only."
)
figures_refresher = _guard(
    can_refresh_figures, "Only senior reviewers and administrators may recompute the figures."
)
