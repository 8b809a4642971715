"""Render a decision's layered explanation (S8) in the person's language, reproducibly (S9).

``render_explanation(decision, language)`` reads only the stored record: the Explanation row, the decision's
inputs, reasons, outcome, version and system. It never reads the clock and formats every number and date
with fixed per-language rules written here (not the active locale), so rendering the same record twice
gives the same text, today or in five years.

Languages shipped: English ("en") and Spanish ("es"). Any other language falls back to English.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decisions.models import Decision

LANGUAGES = ("en", "es")

_MONTHS = {
    "en": [
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ],
    "es": [
        "enero", "febrero", "marzo", "abril", "mayo", "junio",
        "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
    ],
}  # fmt: skip

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "yes": "Yes",
        "no": "No",
        "title": "Why we decided this",
        "decided": "What we decided",
        "effect": "What this means for you",
        "rationale": "The main reasons",
        "responsibility": "Who is responsible",
        "responsible": "{organisation} runs the system “{system}” and is responsible for this decision.",
        "ask_human": "To ask a person to look at this decision, contact {contact}.",
        "data": "The information we used",
        "data_row": "{label}: {value} (from {source}, {as_of})",
        "data_row_undated": "{label}: {value} (from {source})",
        "counterfactual": "What would change the outcome",
        "cf_row": "{label}: {to} instead of {frm}",
        "cf_intro_one": "The outcome would have been different with this change:",
        "cf_intro_many": "The outcome would have been different with these changes together:",
        "cf_none": "No change to the information you can change would give a different outcome by itself. "
        "You can still ask a person to look at the decision.",
        "cf_favourable": "This decision is in your favour.",
        "performance": "How well the system works",
        "fairness": "How we check it is fair",
        "not_stated": "Not stated.",
        "automation": "How the decision was made",
        "auto_full": "A computer system made this decision. No person checked it before it was sent.",
        "auto_partial": "A computer system suggested this decision. A person checked it.",
        "auto_none": "A person made this decision.",
        "detect_auto": "A computer system found the case.",
        "detect_human": "A person found the case.",
        "reference": "Reference",
        "score": "Score",
    },
    "es": {
        "yes": "Sí",
        "no": "No",
        "title": "Por qué decidimos esto",
        "decided": "Qué decidimos",
        "effect": "Qué significa para usted",
        "rationale": "Los motivos principales",
        "responsibility": "Quién es responsable",
        "responsible": "{organisation} gestiona el sistema «{system}» y es responsable de esta decisión.",
        "ask_human": "Para pedir que una persona revise esta decisión, contacte con {contact}.",
        "data": "Los datos que usamos",
        "data_row": "{label}: {value} (de {source}, {as_of})",
        "data_row_undated": "{label}: {value} (de {source})",
        "counterfactual": "Qué cambiaría el resultado",
        "cf_row": "{label}: {to} en lugar de {frm}",
        "cf_intro_one": "El resultado habría sido otro con este cambio:",
        "cf_intro_many": "El resultado habría sido otro con estos cambios juntos:",
        "cf_none": "Ningún cambio en los datos que usted puede cambiar daría otro resultado por sí solo. "
        "Aun así, puede pedir que una persona revise la decisión.",
        "cf_favourable": "Esta decisión es a su favor.",
        "performance": "Cómo funciona el sistema",
        "fairness": "Cómo comprobamos que es justo",
        "not_stated": "No consta.",
        "automation": "Cómo se tomó la decisión",
        "auto_full": "Un sistema informático tomó esta decisión. "
        "Ninguna persona la revisó antes de enviarla.",
        "auto_partial": "Un sistema informático propuso esta decisión. Una persona la revisó.",
        "auto_none": "Una persona tomó esta decisión.",
        "detect_auto": "Un sistema informático detectó el caso.",
        "detect_human": "Una persona detectó el caso.",
        "reference": "Referencia",
        "score": "Puntuación",
    },
}


def language_for(language: str | None) -> str:
    """The shipped language closest to ``language`` ("es-MX" -> "es"); English when none fits."""
    if language in LANGUAGES:  # the common case, asked thousands of times per batch
        return language
    base = (language or "").lower().split("-")[0].split("_")[0]
    return base if base in LANGUAGES else "en"


def words(language: str) -> dict[str, str]:
    return _WORDS[language_for(language)]


def localized(value: Any, language: str) -> str:
    """Pick ``language`` from a {"en": ..., "es": ...} mapping (English, then any, as fallbacks)."""
    if value is None:
        return ""
    if isinstance(value, dict):
        for key in (language_for(language), "en"):
            if value.get(key):
                return str(value[key])
        for v in value.values():
            if v:
                return str(v)
        return ""
    return str(value)


# ------------------------------------------------------------------------------------- formatting


def format_date(value: dt.date | dt.datetime | str | None, language: str) -> str:
    """'5 March 2027' / '5 de marzo de 2027'. Datetimes must already be in the zone to show."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return str(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    lang = language_for(language)
    month = _MONTHS[lang][value.month - 1]
    if lang == "es":
        return f"{value.day} de {month} de {value.year}"
    return f"{value.day} {month} {value.year}"


def format_number(value: Any, language: str) -> str:
    """Thousands and decimal separators per language, trailing zeros dropped: 1,234.5 / 1.234,5."""
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if not d.is_finite():
        return str(value)
    d = d.normalize()
    if d == d.to_integral_value():
        d = d.quantize(Decimal(1))
    sign = "-" if d < 0 else ""
    digits = f"{abs(d):f}"
    whole, _, frac = digits.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    thousands, point = (".", ",") if language_for(language) == "es" else (",", ".")
    out = thousands.join(groups)
    if frac:
        out += point + frac
    return sign + out


def format_value(value: Any, language: str, unit: str = "") -> str:
    w = words(language)
    if isinstance(value, bool):
        return w["yes"] if value else w["no"]
    if value is None or value == "":
        return "—"
    if isinstance(value, int | float | Decimal):
        text = format_number(value, language)
        return f"{text} {unit}".strip() if unit else text
    if isinstance(value, list):
        return ", ".join(format_value(v, language) for v in value)
    if isinstance(value, dict):
        return localized(value, language)
    text = str(value)
    if _NUMERIC_RE.match(text):  # numbers that arrived as strings ("1200.50") are numbers to the reader too
        out = format_number(text, language)
        return f"{out} {unit}".strip() if unit else out
    return text.replace("_", " ")


_NUMERIC_RE = re.compile(r"^-?\d+(?:\.\d+)?$")


# ------------------------------------------------------------------------------------------ result


@dataclass(frozen=True)
class DataItem:
    feature: str
    label: str
    value: str
    source: str
    as_of: str  # formatted date, or ""
    disputed: bool = False

    def line(self, language: str) -> str:
        w = words(language)
        fmt = w["data_row"] if self.as_of else w["data_row_undated"]
        return fmt.format(label=self.label, value=self.value, source=self.source, as_of=self.as_of)


@dataclass(frozen=True)
class Responsibility:
    organisation: str
    system: str
    contact_name: str
    contact_email: str
    contact_phone: str
    statement: str  # "X runs the system Y and is responsible ..."
    ask_human: str  # "To ask a person ..., contact ..."


@dataclass(frozen=True)
class RenderedExplanation:
    language: str
    reference: str
    outcome: str
    effect: str
    adverse: bool
    automation: str
    rationale: list[str]
    responsibility: Responsibility
    data: list[DataItem]
    counterfactual_intro: str
    counterfactual: list[str]
    performance: str
    fairness: str
    score: str = ""
    headings: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The whole explanation as plain text, sections in a fixed order."""
        h = self.headings
        out = [f"{h['title']} ({h['reference']} {self.reference})", ""]
        out += [f"{h['decided']}: {self.outcome}", f"{h['effect']}: {self.effect}", ""]
        out += [h["automation"], self.automation, ""]
        if self.rationale:
            out += [h["rationale"]] + [f"{i}. {r}" for i, r in enumerate(self.rationale, 1)] + [""]
        if self.score:
            out += [f"{h['score']}: {self.score}", ""]
        out += [h["responsibility"], self.responsibility.statement, self.responsibility.ask_human, ""]
        out += [h["data"]] + [f"- {d.line(self.language)}" for d in self.data] + [""]
        out += [h["counterfactual"], self.counterfactual_intro] + [f"- {c}" for c in self.counterfactual]
        out += ["", h["performance"], self.performance, "", h["fairness"], self.fairness]
        return "\n".join(out).strip() + "\n"


# ------------------------------------------------------------------------------------------ render


def automation_text(decision: Decision, language: str) -> str:
    w = words(language)
    main = {"full": w["auto_full"], "partial": w["auto_partial"]}.get(decision.automation, w["auto_none"])
    detect = w["detect_auto"] if decision.automated_detection else w["detect_human"]
    return f"{detect} {main}"


def _features(decision: Decision) -> dict[str, Any]:
    return {f.name: f for f in decision.version.features.all()}


def _rationale(decision: Decision, explanation: Any, language: str) -> list[str]:
    items = list(getattr(explanation, "rationale", None) or [])
    texts = [localized(item.get("text"), language) for item in items if isinstance(item, dict)]
    if items and all(texts):
        return texts
    # Fall back to the recorded reasons and their codes' texts.
    return [localized(r.reason_code.text, language) for r in decision.reasons.all()]


def _data(decision: Decision, explanation: Any, language: str, features: dict[str, Any]) -> list[DataItem]:
    disputed = {i.feature.name: i.disputed for i in decision.inputs.all()}
    stored = list(getattr(explanation, "data", None) or [])
    items: list[DataItem] = []
    if stored:
        for row in stored:
            name = row.get("feature", "")
            feature = features.get(name)
            label = localized(row.get("label"), language) or (
                localized(feature.label, language) if feature else name.replace("_", " ")
            )
            unit = str(row.get("unit") or (feature.unit if feature else ""))
            items.append(
                DataItem(
                    feature=name,
                    label=label,
                    value=format_value(row.get("value"), language, unit),
                    source=str(row.get("source") or (feature.source if feature else "")),
                    as_of=format_date(row.get("as_of"), language),
                    disputed=disputed.get(name, False),
                )
            )
        return items
    for inp in sorted(decision.inputs.all(), key=lambda i: i.feature.name):
        f = inp.feature
        items.append(
            DataItem(
                feature=f.name,
                label=localized(f.label, language) or f.name.replace("_", " "),
                value=format_value(inp.value, language, f.unit),
                source=inp.source or f.source,
                as_of=format_date(inp.as_of, language),
                disputed=inp.disputed,
            )
        )
    return items


def _counterfactual(
    decision: Decision, explanation: Any, language: str, features: dict[str, Any]
) -> tuple[str, list[str]]:
    w = words(language)
    if not decision.adverse:
        return w["cf_favourable"], []
    rows = list(getattr(explanation, "counterfactual", None) or [])
    if not rows:
        # The integrator's own counterfactuals: [{"feature", "value"}].
        current = {i.feature.name: i.value for i in decision.inputs.all()}
        rows = [
            {"feature": c.get("feature"), "from": current.get(str(c.get("feature"))), "to": c.get("value")}
            for c in (decision.counterfactuals or [])
            if isinstance(c, dict)
        ]
    lines = []
    for row in rows:
        name = row.get("feature", "")
        feature = features.get(name)
        label = localized(row.get("label"), language) or (
            localized(feature.label, language) if feature else name.replace("_", " ")
        )
        unit = feature.unit if feature else ""
        lines.append(
            w["cf_row"].format(
                label=label,
                to=format_value(row.get("to"), language, unit),
                frm=format_value(row.get("from"), language, unit),
            )
        )
    if not lines:
        return w["cf_none"], []
    return (w["cf_intro_one"] if len(lines) == 1 else w["cf_intro_many"]), lines


def score_text(decision: Decision, language: str) -> str:
    if decision.score is None:
        return ""
    score = format_number(decision.score, language)
    if decision.score_min is not None and decision.score_max is not None:
        lo, hi = format_number(decision.score_min, language), format_number(decision.score_max, language)
        between = "entre" if language_for(language) == "es" else "between"
        conj = "y" if language_for(language) == "es" else "and"
        return f"{score} ({between} {lo} {conj} {hi})"
    return score


def render_explanation(decision: Decision, language: str) -> RenderedExplanation:
    """The layered explanation of ``decision`` in ``language`` ("en"/"es"), from the stored record only."""
    lang = language_for(language)
    w = words(lang)
    system = decision.system
    version = decision.version
    explanation = getattr(decision, "explanation", None) if _has_explanation(decision) else None
    features = _features(decision)

    resp = dict(getattr(explanation, "responsibility", None) or {})
    organisation = str(resp.get("organisation") or system.owner_organisation)
    contact_name = str(resp.get("contact_name") or system.review_contact_name)
    contact_email = str(resp.get("contact_email") or system.review_contact_email)
    contact_phone = str(resp.get("contact_phone") or system.review_contact_phone)
    contact = ", ".join(x for x in (contact_name, contact_email, contact_phone) if x)
    responsibility = Responsibility(
        organisation=organisation,
        system=system.name,
        contact_name=contact_name,
        contact_email=contact_email,
        contact_phone=contact_phone,
        statement=w["responsible"].format(organisation=organisation, system=system.name),
        ask_human=w["ask_human"].format(contact=contact),
    )
    cf_intro, cf_lines = _counterfactual(decision, explanation, lang, features)
    performance = localized(getattr(explanation, "performance", None), lang) or localized(
        version.performance, lang
    )
    fairness = localized(getattr(explanation, "fairness", None), lang) or localized(version.fairness, lang)
    return RenderedExplanation(
        language=lang,
        reference=decision.public_reference,
        outcome=localized(decision.outcome.label, lang) or decision.outcome.code.replace("_", " "),
        effect=localized(decision.outcome.effect, lang),
        adverse=decision.adverse,
        automation=automation_text(decision, lang),
        rationale=_rationale(decision, explanation, lang),
        responsibility=responsibility,
        data=_data(decision, explanation, lang, features),
        counterfactual_intro=cf_intro,
        counterfactual=cf_lines,
        performance=performance or w["not_stated"],
        fairness=fairness or w["not_stated"],
        score=score_text(decision, lang),
        headings={k: w[k] for k in _HEADINGS},
    )


_HEADINGS = (
    "title",
    "reference",
    "decided",
    "effect",
    "automation",
    "rationale",
    "score",
    "responsibility",
    "data",
    "counterfactual",
    "performance",
    "fairness",
)


def _has_explanation(decision: Decision) -> bool:
    from decisions.models import Explanation

    try:
        decision.explanation  # noqa: B018
    except Explanation.DoesNotExist:
        return False
    return True
