"""Pure rules for decision systems and decisions: no database, no settings, easy to test and to cite.

- S1: the impact level from an Algorithmic Impact Assessment score (Canada's AIA bands).
- S2: how many peer reviews each level needs.
- S3: which data contexts each domain may draw on; social behaviour never; health only as a protected
  attribute with a recorded legal basis, and only for public benefits.
- S6: recognising generic reasons ("insufficient score", "internal standards", ...) however they are spelt.
- S7: automation flags derived from recorded human-involvement events, never typed in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from decisions.models import DataContext, Decision, Domain, HumanInvolvement, ImpactLevel

# ---------------------------------------------------------------------------------------------- S1, S2


def impact_level_for_score(score: int, max_score: int) -> int:
    """AIA bands: at most 25% / 50% / 75% / above 75% of the maximum give level I / II / III / IV.

    Exact arithmetic (no float rounding at a band edge: 25 of 100 is level I, 26 of 100 level II).
    """
    if max_score <= 0:
        raise ValueError("max_score must be positive")
    if score < 0 or score > max_score:
        raise ValueError("score must lie between 0 and max_score")
    share = Fraction(score, max_score)
    if share <= Fraction(1, 4):
        return ImpactLevel.I
    if share <= Fraction(1, 2):
        return ImpactLevel.II
    if share <= Fraction(3, 4):
        return ImpactLevel.III
    return ImpactLevel.IV


def peer_reviews_required(level: int) -> int:
    """S2: level I none, levels II and III one, level IV two."""
    if level >= ImpactLevel.IV:
        return 2
    if level >= ImpactLevel.II:
        return 1
    return 0


# ---------------------------------------------------------------------------------------------- S3

C = DataContext

#: The contexts each domain accepts. Anything else is "unrelated" (AI Act Art. 5(1)(c)).
#: HEALTH appears only for public benefits, and only as a protected attribute with a legal basis
#: (see ``context_problem``). SOCIAL_BEHAVIOUR appears nowhere, by design.
DOMAIN_CONTEXTS: dict[str, frozenset[str]] = {
    Domain.CREDIT: frozenset({C.IDENTITY, C.FINANCIAL, C.CREDIT_HISTORY, C.INCOME, C.EMPLOYMENT}),
    Domain.PUBLIC_BENEFITS: frozenset(
        {C.IDENTITY, C.INCOME, C.HOUSEHOLD, C.BENEFITS_CLAIM, C.EMPLOYMENT, C.HEALTH}
    ),
    Domain.CONTENT_MODERATION: frozenset({C.CONTENT, C.ACCOUNT_ACTIVITY}),
    Domain.EMPLOYMENT: frozenset({C.IDENTITY, C.EMPLOYMENT, C.EDUCATION}),
    Domain.OTHER: frozenset({C.IDENTITY, C.OTHER}),
}

#: Contexts whose data is special-category by nature: usable only as a protected attribute with a basis.
SPECIAL_CONTEXTS: frozenset[str] = frozenset({C.HEALTH})
#: Contexts no domain may ever use.
FORBIDDEN_CONTEXTS: frozenset[str] = frozenset({C.SOCIAL_BEHAVIOUR})


def context_problem(
    domain: str, context: str, *, protected: bool, legal_basis: str
) -> tuple[str, str] | None:
    """Why a feature of ``context`` may not be used by a system of ``domain``, or None when it may.

    Returns ``(code, message)``. Codes: ``social-scoring`` (social behaviour, never allowed),
    ``unrelated-context`` (not a context of the domain), ``special-category-not-protected`` (health data
    not declared protected), ``protected-without-legal-basis`` (a protected attribute with no basis).
    """
    if context in FORBIDDEN_CONTEXTS:
        return (
            "social-scoring",
            "Data about social behaviour in other contexts may never be used to decide about a person.",
        )
    if context not in DOMAIN_CONTEXTS.get(domain, frozenset()):
        return (
            "unrelated-context",
            f"Data from the context '{context}' is unrelated to decisions in the domain '{domain}'.",
        )
    if context in SPECIAL_CONTEXTS and not protected:
        return (
            "special-category-not-protected",
            f"Data from the context '{context}' is special-category data and must be declared protected.",
        )
    return protected_problem(protected=protected, legal_basis=legal_basis)


def protected_problem(*, protected: bool, legal_basis: str) -> tuple[str, str] | None:
    if protected and not (legal_basis or "").strip():
        return (
            "protected-without-legal-basis",
            "A protected or special-category attribute may only be used with a recorded legal basis.",
        )
    return None


# ---------------------------------------------------------------------------------------------- S6

#: Whole reasons that say nothing specific (compared after normalisation, see ``normalise_reason``).
GENERIC_EXACT: frozenset[str] = frozenset(
    {
        "other",
        "others",
        "other reason",
        "other reasons",
        "policy",
        "misc",
        "miscellaneous",
        "general",
        "generic",
        "unknown",
        "unspecified",
        "not specified",
        "na",
        "n a",
        "none",
        "denied",
        "declined",
        "rejected",
        "refused",
        "ineligible",
        "not eligible",
        "not approved",
        "not qualified",
        "does not qualify",
        "score",
        "low score",
        "risk",
        "high risk",
        "too risky",
        "model",
        "model output",
        "model decision",
        "algorithm",
        "automated decision",
        "system decision",
        "criteria",
        "standards",
        "business reasons",
        "business decision",
        "discretion",
        # Spanish
        "otro",
        "otros",
        "otros motivos",
        "otras razones",
        "politica",
        "denegado",
        "rechazado",
        "no apto",
        "no elegible",
    }
)

#: Phrases that make any reason generic wherever they appear in it (Reg. B commentary 9(b)(2)-1 and
#: -3: "internal standards or policies", "insufficient number of points on a credit scoring system",
#: "failed to achieve the qualifying score", "does not meet our criteria").
GENERIC_PHRASES: tuple[str, ...] = (
    "insufficient score",
    "insufficient points",
    "insufficient number of points",
    "score too low",
    "score is too low",
    "score was too low",
    "score below threshold",
    "score below the threshold",
    "failed to achieve",
    "qualifying score",
    "internal standard",
    "internal standards",
    "internal policy",
    "internal policies",
    "internal criteria",
    "internal rule",
    "internal rules",
    "company policy",
    "our criteria",
    "not meet criteria",
    "not meet the criteria",
    "not meet our",
    "meet our criteria",
    "meet our requirements",
    "meet our standards",
    "score below cutoff",
    "score below the cutoff",
    "credit scoring system",
    "scoring model",
    "model score",
    "risk score",
    "for other reasons",
    "various reasons",
    # Spanish
    "puntuacion insuficiente",
    "puntaje insuficiente",
    "puntuacion demasiado baja",
    "puntaje demasiado bajo",
    "normas internas",
    "politica interna",
    "politicas internas",
    "criterios internos",
    "no cumple los criterios",
    "no cumple con los criterios",
    "no cumple los requisitos",
    "no cumple con los requisitos",
    "nuestros criterios",
    "nuestras politicas",
    "por otros motivos",
)

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalise_reason(text: str) -> str:
    """Lower-case, accents stripped, every run of non-alphanumerics (``_``, ``-``, punctuation) one space."""
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode("ascii").lower()
    return _NON_ALNUM.sub(" ", folded).strip()


def is_generic_reason(*texts: str) -> bool:
    """True when any of ``texts`` (a reason code, its English or Spanish text...) is a generic reason.

    An empty text is generic: a reason that says nothing is the most generic of all. The lists carry the
    common Spanish phrasings too, since every reason code has a Spanish text.
    """
    for text in texts:
        norm = normalise_reason(text)
        if not norm:
            return True
        if norm in GENERIC_EXACT:
            return True
        padded = f" {norm} "
        if any(f" {phrase} " in padded for phrase in GENERIC_PHRASES):
            return True
    return False


# ---------------------------------------------------------------------------------------------- S7


@dataclass(frozen=True)
class AutomationFlags:
    """What the recorded human involvement says about the decision (S7, DSA Art. 17(3)(c)).

    - ``automated_detection``: no person detected or flagged the case.
    - ``level`` (the DSA's automated_decision): ``none`` when a person took the decision, ``partial`` when
      a person reviewed or approved the machine's proposal, ``full`` when no person was involved in deciding.
    - ``automated_decision``: the machine decided, at least in part (``level`` is not ``none``).
    - ``human_decided``: a person took or approved the decision (S2: what levels III-IV need before an
      adverse outcome may take effect).
    """

    automated_detection: bool
    level: str
    human_decided: bool

    @property
    def automated_decision(self) -> bool:
        return self.level != Decision.Automation.NONE

    @property
    def dsa_automated_detection(self) -> str:
        return "Yes" if self.automated_detection else "No"

    @property
    def dsa_automated_decision(self) -> str:
        names: dict[str, str] = {
            Decision.Automation.FULL: "AUTOMATED_DECISION_FULLY",
            Decision.Automation.PARTIAL: "AUTOMATED_DECISION_PARTIALLY",
            Decision.Automation.NONE: "AUTOMATED_DECISION_NOT_AUTOMATED",
        }
        return names[self.level]


def derive_automation(kinds: Iterable[str]) -> AutomationFlags:
    """Derive the automation flags from the kinds of the recorded human-involvement events."""
    k = set(kinds)
    K = HumanInvolvement.Kind
    if K.DECISION in k:
        level = Decision.Automation.NONE
    elif k & {K.REVIEW, K.APPROVAL}:
        level = Decision.Automation.PARTIAL
    else:
        level = Decision.Automation.FULL
    return AutomationFlags(
        automated_detection=K.DETECTION not in k,
        level=level,
        human_decided=bool(k & {K.DECISION, K.APPROVAL}),
    )


# ---------------------------------------------------------------------------------------------- misc

#: Public reference prefixes, so a person (and a call centre) can tell the kind of decision at a glance.
REFERENCE_PREFIX: dict[str, str] = {
    Domain.CREDIT: "CRD",
    Domain.PUBLIC_BENEFITS: "BEN",
    Domain.CONTENT_MODERATION: "MOD",
    Domain.EMPLOYMENT: "EMP",
    Domain.OTHER: "DEC",
}


def reference_prefix(domain: str) -> str:
    return REFERENCE_PREFIX.get(domain, "DEC")


#: The most principal reasons an adverse decision may give (Reg. B commentary: more rarely help).
MAX_REASONS = 4
