"""Question pages, the GOV.UK way: one question per page, answers kept in the session, check your answers.

A journey (appeal, data dispute, explanation request) is a list of ``Step``s. A step asks one question
(sometimes with a few fields that belong together, like a representative's name and authority) and may
apply only in some cases (``applies``: the late-appeal question only after the deadline, the hearing
question only where the system offers hearings). This module holds the parts every journey shares:

- the answers of one journey for one decision, in the session (``Progress``);
- validation with the GOV.UK-style messages of the person's language (``validate``);
- what a page template needs to draw a field, with its hint, error and value (``field_views``);
- which page comes next, which comes before, and which is still unanswered (``Journey``);
- the rows of the check-your-answers page, each with its Change link (``summary_rows``).

Nothing here writes to the database: sending is the journey's own ``submit`` (views_journeys), which calls
the appeals services.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from portal.session import Visitor
from portal.text import number, say

JOURNEYS_KEY = "portal_journeys"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()\-.]{6,25}$")


# ------------------------------------------------------------------------------------------ the parts


@dataclass(frozen=True)
class Option:
    value: str
    label: str = ""  # text key
    hint: str = ""
    conditional: tuple[Field, ...] = ()
    text: str = ""  # the label itself, when it comes from the case (a value of the decision's data)
    summary: str = ""  # text key of the short answer on the check-answers page ("Yes")

    def words(self, ctx: Context) -> str:
        return self.text or ctx.text(self.label)

    def short(self, ctx: Context) -> str:
        return ctx.text(self.summary) if self.summary else self.words(ctx)


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "textarea" | "text" | "email" | "tel" | "radios"
    label: str = ""  # text key; on a one-field page the page heading is the label
    summary: str = ""  # text key of the check-answers row
    hint: str = ""
    required: str = ""  # text key of the message when it is missing; "" means optional
    max_length: int = 0
    too_long: str = ""
    invalid: str = ""  # text key when an email address or phone number is not in the right form
    options: Callable[[Context], Sequence[Option]] | None = None
    width: str = ""  # "20", "10": input width classes
    autocomplete: str = ""
    rows: int = 5
    spellcheck: bool = True


@dataclass(frozen=True)
class Step:
    slug: str
    title: str  # text key of the page heading
    fields: tuple[Field, ...] = ()
    intro: str = ""  # text key of a paragraph under the heading (pages with several fields)
    upload: bool = False
    applies: Callable[[Context], bool] = lambda _ctx: True
    check: Callable[[Context, dict[str, str]], list[dict[str, str]]] | None = None


@dataclass
class Context:
    """What the steps of one journey need to know about the case, and the answers so far."""

    v: Visitor
    answers: dict[str, Any]
    params: dict[str, str] = field(default_factory=dict)  # values the texts name: {deadline}, {label}...
    facts: dict[str, Any] = field(default_factory=dict)  # late, hearing offered, email known...

    @property
    def lang(self) -> str:
        return self.v.lang

    def text(self, key: str) -> str:
        return say(self.lang, key, **self.params)


# ------------------------------------------------------------------------------------------ progress


class Progress:
    """One journey's answers and files for one decision, kept in the session until sent."""

    def __init__(self, request: HttpRequest, journey: str, decision_id: Any) -> None:
        self.request = request
        store = request.session.setdefault(JOURNEYS_KEY, {})
        self.key = f"{journey}:{decision_id}"
        self.data: dict[str, Any] = store.setdefault(self.key, {"answers": {}, "seen": [], "files": []})

    @property
    def answers(self) -> dict[str, Any]:
        return self.data["answers"]

    @property
    def files(self) -> list[dict[str, Any]]:
        return self.data["files"]

    @property
    def seen(self) -> list[str]:
        return self.data["seen"]

    def save(self, answers: dict[str, str] | None = None, *, seen: str = "") -> None:
        if answers:
            self.answers.update(answers)
        if seen and seen not in self.seen:
            self.seen.append(seen)
        self.request.session.modified = True

    def forget(self) -> None:
        self.request.session.get(JOURNEYS_KEY, {}).pop(self.key, None)
        self.request.session.modified = True


# ------------------------------------------------------------------------------------------ validation


def _all_fields(step: Step, ctx: Context) -> list[Field]:
    out = []
    for f in step.fields:
        out.append(f)
        if f.options:
            for option in f.options(ctx):
                out.extend(option.conditional)
    return out


def clean_text(value: Any) -> str:
    """Typed text as we keep it: line breaks as \\n, no control characters (a NUL byte cannot even be
    stored by PostgreSQL), no spaces around."""
    text = str(value or "").replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc").strip()


def read_values(step: Step, ctx: Context, post: Any) -> dict[str, str]:
    """What the person typed on this page (every field, including those under options not chosen)."""
    return {f.name: clean_text(post.get(f.name, "")) for f in _all_fields(step, ctx)}


def _check_field(f: Field, value: str, ctx: Context) -> str:
    """The error message key for one field's value, or ""."""
    if not value:
        return f.required
    if f.max_length and len(value) > f.max_length:
        return f.too_long
    if f.kind == "email" and not _EMAIL.match(value):
        return f.invalid
    if f.kind == "tel" and not (_PHONE.match(value) and sum(c.isdigit() for c in value) >= 6):
        return f.invalid
    if f.kind == "radios" and f.options and value not in {o.value for o in f.options(ctx)}:
        return f.required
    return ""


def validate(step: Step, ctx: Context, values: dict[str, str]) -> list[dict[str, str]]:
    """Errors as ``{"field": id, "message": text}``, in page order. Fields under an option that was not
    chosen are not checked."""
    errors = []
    for f in step.fields:
        key = _check_field(f, values.get(f.name, ""), ctx)
        if key:
            errors.append({"field": f.name, "message": ctx.text(key)})
        if f.options:
            for option in f.options(ctx):
                if option.value != values.get(f.name):
                    continue
                for sub in option.conditional:
                    sub_key = _check_field(sub, values.get(sub.name, ""), ctx)
                    if sub_key:
                        errors.append({"field": sub.name, "message": ctx.text(sub_key)})
    if not errors and step.check is not None:
        errors = step.check(ctx, values)
    return errors


def kept_values(step: Step, ctx: Context, values: dict[str, str]) -> dict[str, str]:
    """The answers to store: fields under options that were not chosen are cleared."""
    kept = dict(values)
    for f in step.fields:
        if f.options:
            for option in f.options(ctx):
                if option.value != values.get(f.name):
                    for sub in option.conditional:
                        kept[sub.name] = ""
    return kept


# ------------------------------------------------------------------------------------------ drawing


def _field_view(f: Field, ctx: Context, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    value = str(values.get(f.name, "") or "")
    error = errors.get(f.name, "")
    hint = ctx.text(f.hint) if f.hint else ""
    limit = ""
    if f.kind == "textarea" and f.max_length:
        limit = say(ctx.lang, "max_chars", n=number(f.max_length, ctx.lang))
    described = " ".join(
        x
        for x in (
            f"{f.name}-hint" if hint else "",
            f"{f.name}-limit" if limit else "",
            f"{f.name}-error" if error else "",
        )
        if x
    )
    view: dict[str, Any] = {
        "name": f.name,
        "id": f.name,
        "kind": f.kind,
        "label": ctx.text(f.label) if f.label else "",
        "hint": hint,
        "limit": limit,
        "value": value,
        "error": error,
        "rows": f.rows,
        "width": f.width,
        "autocomplete": f.autocomplete,
        "spellcheck": f.spellcheck,
        "describedby": described,
        "max_length": f.max_length,
    }
    if f.options:
        view["options"] = [
            {
                "value": o.value,
                "label": o.words(ctx),
                "hint": ctx.text(o.hint) if o.hint else "",
                "id": f.name if i == 0 else f"{f.name}-{o.value}",
                "checked": value == o.value,
                "conditional": [_field_view(sub, ctx, values, errors) for sub in o.conditional],
            }
            for i, o in enumerate(f.options(ctx))
        ]
    return view


def field_views(step: Step, ctx: Context, values: dict[str, Any], errors: list[dict[str, str]]) -> list[Any]:
    by_field = {e["field"]: e["message"] for e in errors}
    return [_field_view(f, ctx, values, by_field) for f in step.fields]


# ------------------------------------------------------------------------------------------ the journey


@dataclass(frozen=True)
class Journey:
    name: str  # "appeal", "dispute", "explanation": the URL segment
    steps: tuple[Step, ...]

    def step(self, slug: str) -> Step | None:
        return next((s for s in self.steps if s.slug == slug), None)

    def applicable(self, ctx: Context) -> list[Step]:
        return [s for s in self.steps if s.applies(ctx)]

    def url(self, slug: str, *, change: bool = False) -> str:
        if slug == "check":
            return reverse("portal:journey-check", args=[self.name])
        return reverse("portal:journey-step", args=[self.name, slug]) + ("?change=1" if change else "")

    def first_unanswered(self, ctx: Context, progress: Progress) -> Step | None:
        return next((s for s in self.applicable(ctx) if s.slug not in progress.seen), None)

    def next_url(self, ctx: Context, progress: Progress, current: str, *, change: bool) -> str:
        if change:
            missing = self.first_unanswered(ctx, progress)
            return self.url(missing.slug, change=True) if missing else self.url("check")
        every = [s.slug for s in self.steps]
        position = every.index(current) if current in every else -1
        following = [s for s in self.steps[position + 1 :] if s.applies(ctx)]
        return self.url(following[0].slug) if following else self.url("check")

    def back_url(self, ctx: Context, current: str, *, change: bool, start: str) -> str:
        if change:
            return self.url("check")
        slugs = [s.slug for s in self.applicable(ctx)]
        if current in slugs and slugs.index(current) > 0:
            return self.url(slugs[slugs.index(current) - 1])
        return start


def answer_text(f: Field, ctx: Context, value: str) -> str:
    if f.options:
        for option in f.options(ctx):
            if option.value == value:
                return option.short(ctx)
    return value


def summary_rows(journey: Journey, ctx: Context, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The check-your-answers rows: what was asked (short), the answer, and where to change it."""
    rows: list[dict[str, Any]] = []
    for step in journey.applicable(ctx):
        change = journey.url(step.slug, change=True)
        if step.upload:
            rows.append(
                {
                    "key": ctx.text("sum_documents"),
                    "files": [f["name"] for f in files],
                    "value": "" if files else ctx.text("no_documents"),
                    "change": change,
                }
            )
            continue
        for f in step.fields:
            value = str(ctx.answers.get(f.name, "") or "")
            rows.append(
                {
                    "key": ctx.text(f.summary or f.label or step.title),
                    "value": answer_text(f, ctx, value) or ctx.text("not_given"),
                    "change": f"{change}#{f.name}",
                }
            )
            if f.options:
                for option in f.options(ctx):
                    if option.value != value:
                        continue
                    for sub in option.conditional:
                        rows.append(
                            {
                                "key": ctx.text(sub.summary or sub.label),
                                "value": str(ctx.answers.get(sub.name, "") or "") or ctx.text("not_given"),
                                "change": f"{change}#{sub.name}",
                            }
                        )
    return rows
