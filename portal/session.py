"""Who is looking: the short portal session that stands in for an account.

A person proves they may see a decision (the signed link, or the reference and code from the notice). The
session then holds:

- ``portal_proven``: the id of the decision they proved;
- ``portal_decision``: the decision they are looking at. It is the proven one, or a newer decision that
  replaced it (an appeal overturned it, a data correction re-decided it): the same person, the same case;
- ``portal_language``: the language they chose with the switcher, if they chose one.

Nothing else identifies them: no name, no email, no code. The session lasts ``SESSION_MINUTES`` from the
last page they opened (each portal page moves the expiry on), then everything in it is gone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from core.actors import Actor
from decisions.explanations import language_for
from decisions.models import Decision

SESSION_KEY = "portal_decision"
PROVEN_KEY = "portal_proven"
LANGUAGE_KEY = "portal_language"
SESSION_MINUTES = 30
LANGUAGES = ("en", "es")
#: How many replacements to follow from the proven decision (a chain is never this long in practice).
MAX_LINEAGE = 20


def grant(request: HttpRequest, decision: Decision) -> None:
    """Start a portal session for ``decision`` (a new session id: nothing from before the proof carries
    over except the chosen language)."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = str(decision.pk)
    request.session[PROVEN_KEY] = str(decision.pk)
    request.session.set_expiry(SESSION_MINUTES * 60)


def _uuid(raw: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return None


def lineage(proven: uuid.UUID) -> list[uuid.UUID]:
    """The proven decision and every decision that replaced it, oldest first."""
    ids = [proven]
    while len(ids) < MAX_LINEAGE:
        newer = Decision.objects.filter(supersedes_id=ids[-1]).values_list("pk", flat=True).first()
        if newer is None:
            break
        ids.append(newer)
    return ids


def chosen_language(request: HttpRequest) -> str | None:
    """The language asked for with ``?lang=`` (remembered for the session), or chosen before."""
    asked = request.GET.get("lang")
    if asked in LANGUAGES:
        request.session[LANGUAGE_KEY] = asked
        return asked
    stored = request.session.get(LANGUAGE_KEY)
    return stored if stored in LANGUAGES else None


def anonymous_language(request: HttpRequest) -> str:
    """Before the person has proved anything: their choice, else their browser's language (LocaleMiddleware),
    else English."""
    return chosen_language(request) or language_for(getattr(request, "LANGUAGE_CODE", "en"))


@dataclass
class Visitor:
    """A person with a portal session: the decision they are looking at, the decisions they may see, their
    language, and how they appear in the audit log (by pseudonym only)."""

    decision: Decision
    lineage: list[uuid.UUID]
    lang: str
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def actor(self) -> Actor:
        return Actor.subject(self.decision.subject.pseudonym)

    @property
    def tz(self) -> str:
        return str(self.decision.system.time_zone)

    def may_see(self, decision_id: Any) -> bool:
        wanted = _uuid(decision_id)
        return wanted is not None and wanted in self.lineage


def visitor(request: HttpRequest) -> Visitor | None:
    """The person behind this request, or None when there is no (longer a) portal session. Opening a page
    moves the session's expiry on."""
    proven = _uuid(request.session.get(PROVEN_KEY) or request.session.get(SESSION_KEY))
    current = _uuid(request.session.get(SESSION_KEY))
    if proven is None or current is None:
        return None
    ids = lineage(proven)
    if current not in ids:
        current = proven
        request.session[SESSION_KEY] = str(proven)
    decision = (
        Decision.objects.select_related("system", "version", "outcome", "subject", "explanation")
        .prefetch_related("inputs__feature", "reasons__reason_code", "version__features")
        .filter(pk=current)
        .first()
    )
    if decision is None:
        return None
    request.session.set_expiry(SESSION_MINUTES * 60)  # sliding: counted from the last page opened
    lang = chosen_language(request) or language_for(decision.subject.language)
    return Visitor(decision=decision, lineage=ids, lang=lang)


def view_decision(request: HttpRequest, v: Visitor, decision_id: uuid.UUID) -> bool:
    """Look at another decision of the same case (one that replaced the proven one)."""
    if decision_id not in v.lineage:
        return False
    request.session[SESSION_KEY] = str(decision_id)
    return True
