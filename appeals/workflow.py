"""The appeal's state machine as a pure transition table: no database, no Django models.

Every service in ``appeals.services`` that moves an appeal locks the row, re-reads it, and asks this table
(``next_state``) whether the event is allowed from the state it found. A refused event raises
``TransitionNotAllowed`` (409 problem details) and changes nothing.

States
    submitted               filed, waiting for a person to triage it (late appeals: the good-cause path)
    queued                  admissible, waiting in its queue for a reviewer
    in_review               claimed by a reviewer
    awaiting_appellant      the reviewer asked the person for information; the institution's clock is paused
    awaiting_second_review  upheld at impact III-IV: waiting for a second, independent reviewer (S24)
    decided                 the outcome is recorded and carried through (S27)
    closed                  finished: the remedy is carried out, or the appeal became moot
    withdrawn               the person withdrew it
    refused                 inadmissible (late without good cause), with reasons: never a silent refusal

Self-loops are explicit: claiming a case for a second review, or reassigning it, keeps its state but is
still a step that is checked and audited.
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import TransitionNotAllowed


class State(StrEnum):
    SUBMITTED = "submitted"
    QUEUED = "queued"
    IN_REVIEW = "in_review"
    AWAITING_APPELLANT = "awaiting_appellant"
    AWAITING_SECOND_REVIEW = "awaiting_second_review"
    DECIDED = "decided"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"


#: The states' values, as the API shows them (and the OpenAPI schema names "AppealStateEnum").
STATE_VALUES = [s.value for s in State]


class Event(StrEnum):
    ACCEPT = "accept"  # triage: admissible (in time, or late with good cause)
    REFUSE = "refuse"  # triage: inadmissible, with reasons
    CLAIM = "claim"  # a reviewer takes the case ("Next case"), first or second review
    ASSIGN = "assign"  # staff give the case to a named reviewer
    RELEASE = "release"  # the claimant or staff give the case back
    LAPSE = "lapse"  # the claim ran out of idle time
    REQUEST_INFORMATION = "request_information"
    INFORMATION_RECEIVED = "information_received"
    INFORMATION_TIMEOUT = "information_timeout"  # the reply deadline passed: review goes on, on the record
    DECIDE = "decide"  # a final outcome (overturned, modified, or upheld without four eyes)
    DECIDE_FOR_SECOND_REVIEW = "decide_for_second_review"  # upheld where four eyes apply (S24)
    CONFIRM = "confirm"  # the second reviewer confirms the uphold
    DISAGREE = "disagree"  # the second reviewer does not confirm: a fresh review, escalated
    CLOSE = "close"  # the remedy is carried out
    MOOT = "moot"  # the decision was replaced (a data correction superseded it) while the appeal was open
    WITHDRAW = "withdraw"


LABELS: dict[State, str] = {
    State.SUBMITTED: "Submitted",
    State.QUEUED: "Queued",
    State.IN_REVIEW: "In review",
    State.AWAITING_APPELLANT: "Waiting for the appellant",
    State.AWAITING_SECOND_REVIEW: "Waiting for a second review",
    State.DECIDED: "Decided",
    State.CLOSED: "Closed",
    State.WITHDRAWN: "Withdrawn",
    State.REFUSED: "Refused (inadmissible)",
}

#: States in which the appeal is still open: at most one open appeal per decision.
OPEN_STATES: frozenset[State] = frozenset(
    {
        State.SUBMITTED,
        State.QUEUED,
        State.IN_REVIEW,
        State.AWAITING_APPELLANT,
        State.AWAITING_SECOND_REVIEW,
    }
)
#: States nothing leaves.
TERMINAL_STATES: frozenset[State] = frozenset({State.CLOSED, State.WITHDRAWN, State.REFUSED})
#: States in which the institution's clock runs (S25): not while waiting on the person.
CLOCK_RUNNING_STATES: frozenset[State] = OPEN_STATES - {State.AWAITING_APPELLANT}
#: States in which a reviewer holds the case (``claimed_by`` set). In awaiting_second_review the claim is
#: optional: it names the second reviewer once one has taken the case.
CLAIMED_STATES: frozenset[State] = frozenset({State.IN_REVIEW, State.AWAITING_APPELLANT})

_S, _E = State, Event

TRANSITIONS: dict[tuple[State, Event], State] = {
    (_S.SUBMITTED, _E.ACCEPT): _S.QUEUED,
    (_S.SUBMITTED, _E.REFUSE): _S.REFUSED,
    (_S.QUEUED, _E.CLAIM): _S.IN_REVIEW,
    (_S.QUEUED, _E.ASSIGN): _S.IN_REVIEW,
    (_S.IN_REVIEW, _E.ASSIGN): _S.IN_REVIEW,
    (_S.IN_REVIEW, _E.RELEASE): _S.QUEUED,
    (_S.IN_REVIEW, _E.LAPSE): _S.QUEUED,
    (_S.IN_REVIEW, _E.REQUEST_INFORMATION): _S.AWAITING_APPELLANT,
    (_S.AWAITING_APPELLANT, _E.ASSIGN): _S.AWAITING_APPELLANT,
    (_S.AWAITING_APPELLANT, _E.INFORMATION_RECEIVED): _S.IN_REVIEW,
    (_S.AWAITING_APPELLANT, _E.INFORMATION_TIMEOUT): _S.IN_REVIEW,
    (_S.IN_REVIEW, _E.DECIDE): _S.DECIDED,
    (_S.IN_REVIEW, _E.DECIDE_FOR_SECOND_REVIEW): _S.AWAITING_SECOND_REVIEW,
    (_S.AWAITING_SECOND_REVIEW, _E.CLAIM): _S.AWAITING_SECOND_REVIEW,
    (_S.AWAITING_SECOND_REVIEW, _E.ASSIGN): _S.AWAITING_SECOND_REVIEW,
    (_S.AWAITING_SECOND_REVIEW, _E.RELEASE): _S.AWAITING_SECOND_REVIEW,
    (_S.AWAITING_SECOND_REVIEW, _E.LAPSE): _S.AWAITING_SECOND_REVIEW,
    (_S.AWAITING_SECOND_REVIEW, _E.CONFIRM): _S.DECIDED,
    (_S.AWAITING_SECOND_REVIEW, _E.DISAGREE): _S.QUEUED,
    (_S.DECIDED, _E.CLOSE): _S.CLOSED,
    **{(state, _E.WITHDRAW): _S.WITHDRAWN for state in OPEN_STATES},
    **{(state, _E.MOOT): _S.CLOSED for state in OPEN_STATES},
}


def _state(value: State | str) -> State:
    try:
        return State(value)
    except ValueError:
        raise TransitionNotAllowed(f"'{value}' is not an appeal state.", code="unknown-state") from None


def can(state: State | str, event: Event | str) -> bool:
    """Whether ``event`` is allowed from ``state``. Unknown states or events are never allowed."""
    try:
        return (State(state), Event(event)) in TRANSITIONS
    except ValueError:
        return False


def next_state(state: State | str, event: Event | str) -> State:
    """The state ``event`` leads to from ``state``; raises TransitionNotAllowed when it is not allowed."""
    current = _state(state)
    try:
        ev = Event(event)
    except ValueError:
        raise TransitionNotAllowed(f"'{event}' is not an appeal step.", code="unknown-event") from None
    target = TRANSITIONS.get((current, ev))
    if target is None:
        allowed = sorted(e.value for (s, e) in TRANSITIONS if s == current)
        raise TransitionNotAllowed(
            f"An appeal that is {LABELS[current].lower()} cannot take the step '{ev.value}'.",
            extra={"state": current.value, "event": ev.value, "allowed": allowed},
        )
    return target


def events_from(state: State | str) -> list[Event]:
    """The events allowed from ``state``, in declaration order (for pages that offer the next steps)."""
    current = _state(state)
    return [e for (s, e) in TRANSITIONS if s == current]


def is_open(state: State | str) -> bool:
    return State(state) in OPEN_STATES
