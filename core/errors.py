"""One error family for the whole application.

Services raise ApplicationError subclasses; the API turns them into RFC 9457 problem details
(core.api.errors) and pages turn them into an error summary. ``errors`` carries field-level problems as
``{"field": ..., "code": ..., "message": ...}`` dicts so a client can point at the exact input.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    code = "application-error"
    status = 400
    title = "The request could not be completed"

    def __init__(
        self,
        detail: str = "",
        *,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        status: int | None = None,
        title: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code:
            self.code = code
        if status:
            self.status = status
        if title:
            self.title = title
        self.errors = errors or []
        self.extra = extra or {}

    def as_problem(self) -> dict[str, Any]:
        """The problem-details body (without ``instance``, which the API adds)."""
        body: dict[str, Any] = {
            "type": f"/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class ValidationFailed(ApplicationError):
    code = "validation-failed"
    status = 422
    title = "The request is not valid"


class NotFound(ApplicationError):
    code = "not-found"
    status = 404
    title = "Not found"


class PermissionDenied(ApplicationError):
    code = "permission-denied"
    status = 403
    title = "You may not do this"


class Conflict(ApplicationError):
    code = "conflict"
    status = 409
    title = "The request conflicts with the current state"


class TransitionNotAllowed(Conflict):
    code = "transition-not-allowed"
    title = "That step is not allowed from the current state"


def field_error(field: str, code: str, message: str) -> dict[str, Any]:
    return {"field": field, "code": code, "message": message}
