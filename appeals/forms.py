"""Forms of the reviewer pages. They only shape the input (choices, lengths, numbers); the rules are the
services' (appeals.services, appeals.messaging), whose refusals the pages show in the same error summary.

Each form has its own ``auto_id`` prefix, so several forms on the case page never share an element id,
while the posted names stay plain (``rationale``, ``outcome``...).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django import forms

from appeals.models import Appeal, EvidenceFile, InformationRequest
from appeals.workflow import LABELS, State


class ReviewForm(forms.Form):
    """A form on the reviewer pages: knows its element-id prefix and where a service's field error goes."""

    id_prefix = "form"
    #: A service's field name (its first dotted part) -> this form's field.
    service_fields: dict[str, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)

    def anchor(self, service_field: str = "") -> str:
        """The element id a summary link points at for ``service_field`` (the form itself when unknown)."""
        name = service_field.split(".")[0]
        name = self.service_fields.get(name, name)
        if name in self.fields:
            return f"{self.id_prefix}-{name}"
        return f"{self.id_prefix}-form"


class FilterForm(forms.Form):
    """The filters of the queue page (GET). Unknown values are simply ignored, never an error page."""

    system = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="System")
    status = forms.ChoiceField(required=False, label="Status")
    stayed = forms.BooleanField(required=False, label="Effect on hold")
    escalated = forms.BooleanField(required=False, label="Escalated")
    late = forms.BooleanField(required=False, label="Filed late")
    overdue = forms.BooleanField(required=False, label="Past its due date")
    new_message = forms.BooleanField(required=False, label="New message")

    def __init__(self, *args: Any, systems: Iterable[tuple[int, str]] = (), **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "f-%s")
        super().__init__(*args, **kwargs)
        self.fields["system"].choices = [("", "Any"), *systems]  # type: ignore[attr-defined]
        self.fields["status"].choices = [  # type: ignore[attr-defined]
            ("", "Open (any open status)"),
            *[(s.value, LABELS[s]) for s in State],
        ]

    def cleaned(self) -> dict[str, Any]:
        """The valid filters only: a value that is not a choice is dropped (the rest still apply)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {name: data.get(name) for name in self.fields if name not in self.errors}


class BlindAssessmentForm(ReviewForm):
    id_prefix = "blind"

    outcome = forms.ChoiceField(label="Your own view of the right outcome", widget=forms.RadioSelect)
    note = forms.CharField(
        label="Why", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, outcomes: Sequence[tuple[str, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = list(outcomes)  # type: ignore[attr-defined]


def evidence_choices(
    evidence: Sequence[EvidenceFile], replies: Sequence[InformationRequest]
) -> list[tuple[str, str]]:
    """What a reviewer can cite (S26): the statement, the decision record, each file, each answer."""
    choices = [("statement", "The person's statement"), ("decision_record", "The decision record (inputs)")]
    choices += [(str(f.pk), f"File: {f.original_name}") for f in evidence]
    choices += [
        (f"reply:{r.pk}", f"The person's answer of {r.replied_at:%d %b %Y}")
        for r in replies
        if r.replied_at is not None
    ]
    return choices


class DecideForm(ReviewForm):
    id_prefix = "decide"

    outcome = forms.ChoiceField(
        label="Outcome of the appeal", choices=Appeal.Outcome.choices, widget=forms.RadioSelect
    )
    new_outcome = forms.ChoiceField(
        label="The outcome that replaces the decision (for overturned or modified)", required=False
    )
    rationale = forms.CharField(
        label="Reasons for the outcome", max_length=20000, widget=forms.Textarea(attrs={"rows": 6})
    )
    evidence_relied_on = forms.MultipleChoiceField(
        label="Evidence you relied on", required=False, widget=forms.CheckboxSelectMultiple
    )
    remedy = forms.MultipleChoiceField(
        label="Remedy owed (overturned or modified only)",
        required=False,
        choices=Appeal.Remedy.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    remedy_note = forms.CharField(
        label="Remedy note",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(
        self,
        *args: Any,
        outcomes: Sequence[tuple[str, str]] = (),
        evidence: Sequence[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_outcome"].choices = [("", "Choose an outcome"), *outcomes]  # type: ignore[attr-defined]
        self.fields["evidence_relied_on"].choices = list(evidence)  # type: ignore[attr-defined]


class ConfirmSecondForm(ReviewForm):
    id_prefix = "confirm"

    confirm = forms.TypedChoiceField(
        label="Do you confirm the first reviewer's outcome?",
        choices=[("yes", "Yes, confirm it"), ("no", "No, send it back for a fresh review")],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    rationale = forms.CharField(
        label="Your reasons", max_length=20000, widget=forms.Textarea(attrs={"rows": 4})
    )


class InformationRequestForm(ReviewForm):
    id_prefix = "info"
    service_fields = {"reply_days": "reply_days"}

    question = forms.CharField(
        label="Your question to the person", max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
    reply_days = forms.IntegerField(
        label="Days the person has to answer", min_value=1, max_value=90, initial=14
    )


class MessageForm(ReviewForm):
    id_prefix = "message"

    body = forms.CharField(
        label="Message to the person",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The person gets it as a notice. Write plainly; no internal notes.",
    )


class ReleaseForm(ReviewForm):
    id_prefix = "release"

    reason = forms.CharField(label="Why", required=False, max_length=200)


class ReassignForm(ReviewForm):
    id_prefix = "reassign"
    service_fields = {"to": "to"}

    to = forms.TypedChoiceField(label="Give the case to", coerce=int)
    reason = forms.CharField(label="Why", required=False, max_length=200)

    def __init__(self, *args: Any, reviewers: Sequence[tuple[int, str]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to"].choices = [("", "Choose a reviewer"), *reviewers]  # type: ignore[attr-defined]


class TriageForm(ReviewForm):
    """A late appeal (S17): accept it for good cause or refuse it as inadmissible, with reasons either way
    (the service says so when they are missing, so the page and the API give the same refusal)."""

    id_prefix = "triage"
    service_fields = {"reasons": "reasons"}

    accept = forms.TypedChoiceField(
        label="Is there good cause for the delay?",
        choices=[
            ("yes", "Yes, accept the appeal for good cause"),
            ("no", "No, refuse it as inadmissible"),
        ],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    reasons = forms.CharField(
        label="Your reasons (the person will read them)",
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
