"""Built-in transparent scorecards: points per feature band, a threshold, outcomes (issue 3, S6, S8, S9).

An institution can use a scorecard for a system version instead of its own model. It is pure Python (no
database), works in ``Decimal`` throughout (no float drift), and is deterministic: the same card and the
same inputs always give the same score, reasons and counterfactual (S9).

Schema
======

A scorecard is a JSON object, stored in ``SystemVersion.scorecard``::

    {
      "base": 300,                  # number, required: points everyone starts with
      "threshold": 600,             # number, required: the cut point (see "Outcome" below)
      "score_min": 300,             # number, optional: the published range; when given, every
      "score_max": 850,             #   achievable score must lie inside it
      "higher_is_better": true,     # bool, optional (default true)
      "outcomes": {
        "pass": "approved",         # outcome code on the favourable side, required
        "fail": "declined",         # outcome code on the adverse side, required
        "fail_tiers": [             # optional: harsher adverse outcomes further from the threshold
          {"score": 450, "outcome": "declined_refer"}
        ]
      },
      "features": [                 # at least one
        {
          "name": "payment_history_pct",   # [a-z][a-z0-9_]*, unique, at most 80 characters
          "kind": "numeric",               # "numeric" or "category"
          "actionable": true,              # optional (default false): the person can change it
          "protected": false,              # optional (default false): protected attribute, never changed
          "reason": "PAYMENT_HISTORY",     # optional default reason code for this feature's bands
          "step": 1,                       # numeric only, optional (default 1): resolution of values
          "bands": [
            {"max": 80, "points": 0, "reason": "PAYMENT_HISTORY_LOW"},
            {"min": 80, "max": 95, "points": 60},
            {"min": 95, "points": 120}
          ]
        },
        {
          "name": "housing", "kind": "category",
          "bands": [
            {"values": ["own", "mortgage"], "points": 40},
            {"values": ["rent"], "points": 20, "reason": "HOUSING"},
            {"values": ["other"], "points": 0, "reason": "HOUSING"}
          ]
        }
      ]
    }

Bands. A numeric band holds the values ``min <= value < max`` (``min`` inclusive, ``max`` exclusive). The
bands of a numeric feature are listed in increasing order and cover every number: the first has no
``min``, the last no ``max``, and each band's ``min`` equals the previous band's ``max``. Each bounded band
is at least ``step`` wide, so that ``max - step`` lies inside it. A category band lists ``values`` (strings,
integers or booleans; compared with their type, so ``true`` never matches ``1``); a value belongs to at most
one band. A value that falls in no band, or a missing input, is an error (``ScorecardError``): the card
never guesses. Points may be integers or decimals (given as numbers or strings such as ``"12.5"``).

Reason codes (``[A-Z][A-Z0-9_]*``, at most 40 characters) come from the band, else from the feature. Every
band that earns less than its feature's best band must have one, and a code belongs to one feature only
(a reason names the input it is about, S6).

Score. ``score = base + sum of the points of the band each input falls in``.

Outcome. The threshold belongs to the upper side: with ``higher_is_better`` the person passes when
``score >= threshold``; without it (a risk score) the person passes when ``score < threshold``. Otherwise
the outcome is ``fail``, or the most extreme ``fail_tier`` reached: a tier at ``s`` applies when
``score < s`` (higher is better; ``s`` must be at most the threshold) or ``score >= s`` (risk scores; ``s``
must be above the threshold). The best achievable score must pass, so that every adverse result has a
reason.

Principal reasons. A feature's loss is the points it earned against its best band (for risk scores: the
points it added above its lowest band). The reasons are the features with a loss above zero, at most four,
by loss descending, ties broken by the order of the features in the card. Each carries its band's (else
its feature's) reason code and its loss as ``weight``. They are computed on both sides of the threshold;
what a caller records for a favourable decision is its own choice.

Counterfactual recourse. When the result is adverse, the engine finds, exactly, the smallest change of
actionable, non-protected features that reaches the favourable side; a feature that is not actionable
(immutable) or is protected is never changed. "Smallest" is, in order:

1. the fewest features changed;
2. the least overshoot: the fewest points beyond what is needed to reach the threshold;
3. the fewest band steps moved in total (a numeric band next door counts 1, two bands away 2; a
   category change counts 1);
4. the earliest features in the card's order, then the lowest band index.

The search is a dynamic programme over (features changed, points gained) that is exact for the additive
model. For a numeric feature the proposed value is the nearest value inside the target band: its ``min``
when moving up, ``max - step`` when moving down. For a category it is the first value listed for the target
band. When no such change reaches the favourable side, ``counterfactual`` is empty and
``counterfactual_reachable`` is false. For a favourable result ``counterfactual`` is empty and
``counterfactual_reachable`` is true (nothing needs to change).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_REASONS = 4
NUMERIC = "numeric"
CATEGORY = "category"
KINDS = (NUMERIC, CATEGORY)

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,79}$")
_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")
_CODE_RULE = "must be an upper-case code like PAYMENT_HISTORY (at most 40 characters)"
_CARD_KEYS = {"base", "threshold", "score_min", "score_max", "higher_is_better", "outcomes", "features"}
_CARD_KEYS |= {"description"}
_OUTCOME_KEYS = {"pass", "fail", "fail_tiers"}
_FEATURE_KEYS = {"name", "kind", "actionable", "protected", "reason", "step", "bands", "description"}
_BAND_KEYS = {"min", "max", "values", "points", "reason", "label"}


class ScorecardError(ValueError):
    """An invalid card, or inputs the card cannot score. ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


@dataclass(frozen=True)
class Reason:
    code: str
    feature: str
    weight: Decimal  # points lost against the feature's best band


@dataclass(frozen=True)
class Change:
    feature: str
    from_value: Any
    to_value: Any
    points_gained: Decimal  # how far the change moves the score towards the favourable side (> 0)


@dataclass(frozen=True)
class Contribution:
    feature: str
    value: Any
    band: int  # index of the band the value fell in
    points: Decimal
    best_points: Decimal


@dataclass(frozen=True)
class ScoreResult:
    score: Decimal
    outcome_code: str
    adverse_side: bool
    reasons: list[Reason]
    counterfactual: list[Change]
    counterfactual_reachable: bool
    contributions: list[Contribution]


# --------------------------------------------------------------------------------------------- parsing


def _decimal(value: Any) -> Decimal | None:
    """A finite Decimal from an int, float, Decimal or numeric string; None for anything else (and bools)."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | Decimal):
            d = Decimal(value)
        elif isinstance(value, float):
            d = Decimal(repr(value))
        elif isinstance(value, str):
            d = Decimal(value.strip())
        else:
            return None
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _same_scalar(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _is_category_value(v: Any) -> bool:
    return isinstance(v, str | int | bool)


@dataclass(frozen=True)
class _Band:
    index: int
    points: Decimal
    reason: str | None
    low: Decimal | None = None
    high: Decimal | None = None
    values: tuple[Any, ...] = ()


@dataclass(frozen=True)
class _Feature:
    index: int
    name: str
    kind: str
    actionable: bool
    protected: bool
    step: Decimal
    bands: tuple[_Band, ...]

    def band_for(self, value: Any) -> _Band | str:
        """The band ``value`` falls in, or an error message."""
        if self.kind == NUMERIC:
            d = _decimal(value)
            if d is None:
                return f"{self.name}: {value!r} is not a number"
            for band in self.bands:
                if (band.low is None or d >= band.low) and (band.high is None or d < band.high):
                    return band
            return f"{self.name}: {value!r} falls in no band"  # unreachable for a validated card
        if not _is_category_value(value):
            return f"{self.name}: {value!r} is not a category value"
        for band in self.bands:
            if any(_same_scalar(value, v) for v in band.values):
                return band
        return f"{self.name}: {value!r} is not one of the card's values"


def _to_plain(d: Decimal) -> int | Decimal:
    return int(d) if d == d.to_integral_value() else d.normalize()


def to_json_number(d: Decimal) -> int | float:
    """A Decimal as a JSON number: an int when integral, else the float of its shortest decimal form."""
    return int(d) if d == d.to_integral_value() else float(str(d.normalize()))


# ------------------------------------------------------------------------------------------ validation


def _validate_band_common(path: str, band: Any, errors: list[str]) -> Decimal | None:
    if not isinstance(band, Mapping):
        errors.append(f"{path}: must be an object")
        return None
    unknown = sorted(set(band) - _BAND_KEYS)
    if unknown:
        errors.append(f"{path}: unknown keys {', '.join(unknown)}")
    points = _decimal(band.get("points"))
    if points is None:
        errors.append(f"{path}.points: required, a number")
    reason = band.get("reason")
    if reason is not None and not (isinstance(reason, str) and _CODE_RE.match(reason)):
        errors.append(
            f"{path}.reason: must be an upper-case code like PAYMENT_HISTORY (at most 40 characters)"
        )
    return points


def _validate_feature(i: int, f: Any, hib: bool, errors: list[str]) -> None:
    path = f"features[{i}]"
    if not isinstance(f, Mapping):
        errors.append(f"{path}: must be an object")
        return
    unknown = sorted(set(f) - _FEATURE_KEYS)
    if unknown:
        errors.append(f"{path}: unknown keys {', '.join(unknown)}")
    name = f.get("name")
    if not (isinstance(name, str) and _NAME_RE.match(name)):
        errors.append(f"{path}.name: required, lower-case letters, digits and _ (at most 80 characters)")
    else:
        path = f"features[{i}] ({name})"
    kind = f.get("kind")
    if kind not in KINDS:
        errors.append(f"{path}.kind: must be one of {', '.join(KINDS)}")
    for flag in ("actionable", "protected"):
        if flag in f and not isinstance(f[flag], bool):
            errors.append(f"{path}.{flag}: must be true or false")
    reason = f.get("reason")
    if reason is not None and not (isinstance(reason, str) and _CODE_RE.match(reason)):
        errors.append(
            f"{path}.reason: must be an upper-case code like PAYMENT_HISTORY (at most 40 characters)"
        )
    step = Decimal(1)
    if "step" in f:
        if kind != NUMERIC:
            errors.append(f"{path}.step: only numeric features have a step")
        parsed = _decimal(f["step"])
        if parsed is None or parsed <= 0:
            errors.append(f"{path}.step: must be a number above zero")
        else:
            step = parsed
    bands = f.get("bands")
    if not isinstance(bands, list) or not bands:
        errors.append(f"{path}.bands: required, a non-empty list")
        return
    points: list[Decimal | None] = []
    for j, band in enumerate(bands):
        points.append(_validate_band_common(f"{path}.bands[{j}]", band, errors))
    if any(not isinstance(b, Mapping) for b in bands):
        return
    if kind == NUMERIC:
        _validate_numeric_bands(path, bands, step, errors)
    elif kind == CATEGORY:
        _validate_category_bands(path, bands, errors)
    known = [p for p in points if p is not None]
    if len(known) == len(points):
        best = max(known) if hib else min(known)
        for j, band in enumerate(bands):
            if points[j] != best and not band.get("reason") and not reason:
                errors.append(
                    f"{path}.bands[{j}]: earns less than the best band, so it needs a reason code "
                    "(on the band or the feature)"
                )


def _validate_numeric_bands(path: str, bands: list[Any], step: Decimal, errors: list[str]) -> None:
    prev_high: Decimal | None = None
    last = len(bands) - 1
    for j, band in enumerate(bands):
        bp = f"{path}.bands[{j}]"
        if "values" in band:
            errors.append(f"{bp}: a numeric band has min/max, not values")
        low = _decimal(band["min"]) if "min" in band else None
        high = _decimal(band["max"]) if "max" in band else None
        if "min" in band and low is None:
            errors.append(f"{bp}.min: must be a number")
        if "max" in band and high is None:
            errors.append(f"{bp}.max: must be a number")
        if j == 0 and "min" in band:
            errors.append(f"{bp}.min: the first band has no min, so that every value falls in a band")
        if j > 0 and "min" not in band:
            errors.append(f"{bp}.min: required (equal to the previous band's max)")
        if j == last and "max" in band:
            errors.append(f"{bp}.max: the last band has no max, so that every value falls in a band")
        if j < last and "max" not in band:
            errors.append(f"{bp}.max: required (only the last band is open above)")
        if j > 0 and low is not None and prev_high is not None and low != prev_high:
            errors.append(f"{bp}.min: must equal the previous band's max ({prev_high}): no gaps or overlaps")
        if low is not None and high is not None and high - low < step:
            errors.append(f"{bp}: max must be at least one step ({step}) above min")
        prev_high = high


def _validate_category_bands(path: str, bands: list[Any], errors: list[str]) -> None:
    seen: list[Any] = []
    for j, band in enumerate(bands):
        bp = f"{path}.bands[{j}]"
        if "min" in band or "max" in band:
            errors.append(f"{bp}: a category band has values, not min/max")
        values = band.get("values")
        if not isinstance(values, list) or not values:
            errors.append(f"{bp}.values: required, a non-empty list")
            continue
        for v in values:
            if not _is_category_value(v):
                errors.append(f"{bp}.values: {v!r} is not a string, integer or boolean")
            elif any(_same_scalar(v, s) for s in seen):
                errors.append(f"{bp}.values: {v!r} appears in more than one band")
            else:
                seen.append(v)


def validate_scorecard(card: Any) -> list[str]:
    """Every problem with ``card``, as readable messages; an empty list means the card is valid."""
    errors: list[str] = []
    if not isinstance(card, Mapping):
        return ["the scorecard must be a JSON object"]
    unknown = sorted(set(card) - _CARD_KEYS)
    if unknown:
        errors.append(f"unknown keys {', '.join(unknown)}")
    base = _decimal(card.get("base"))
    if base is None:
        errors.append("base: required, a number")
    threshold = _decimal(card.get("threshold"))
    if threshold is None:
        errors.append("threshold: required, a number")
    hib = card.get("higher_is_better", True)
    if not isinstance(hib, bool):
        errors.append("higher_is_better: must be true or false")
        hib = True
    score_min = _decimal(card["score_min"]) if card.get("score_min") is not None else None
    score_max = _decimal(card["score_max"]) if card.get("score_max") is not None else None
    if card.get("score_min") is not None and score_min is None:
        errors.append("score_min: must be a number")
    if card.get("score_max") is not None and score_max is None:
        errors.append("score_max: must be a number")
    if score_min is not None and score_max is not None and score_min >= score_max:
        errors.append("score_min: must be below score_max")

    outcomes = card.get("outcomes")
    if not isinstance(outcomes, Mapping):
        errors.append("outcomes: required, an object with pass and fail outcome codes")
    else:
        unknown = sorted(set(outcomes) - _OUTCOME_KEYS)
        if unknown:
            errors.append(f"outcomes: unknown keys {', '.join(unknown)}")
        for side in ("pass", "fail"):
            if not (isinstance(outcomes.get(side), str) and outcomes[side].strip()):
                errors.append(f"outcomes.{side}: required, an outcome code")
        if outcomes.get("pass") is not None and outcomes.get("pass") == outcomes.get("fail"):
            errors.append("outcomes: pass and fail must be different outcomes")
        tiers = outcomes.get("fail_tiers", [])
        if not isinstance(tiers, list):
            errors.append("outcomes.fail_tiers: must be a list")
            tiers = []
        for k, tier in enumerate(tiers):
            tp = f"outcomes.fail_tiers[{k}]"
            if not isinstance(tier, Mapping):
                errors.append(f"{tp}: must be an object with score and outcome")
                continue
            s = _decimal(tier.get("score"))
            if s is None:
                errors.append(f"{tp}.score: required, a number")
            elif threshold is not None and (s > threshold if hib else s <= threshold):
                side = "at most" if hib else "above"
                errors.append(f"{tp}.score: must be {side} the threshold ({threshold})")
            if not (isinstance(tier.get("outcome"), str) and tier["outcome"].strip()):
                errors.append(f"{tp}.outcome: required, an outcome code")
            elif tier["outcome"] == outcomes.get("pass"):
                errors.append(f"{tp}.outcome: must not be the pass outcome")

    features = card.get("features")
    if not isinstance(features, list) or not features:
        errors.append("features: required, a non-empty list")
        return errors
    start = len(errors)
    for i, f in enumerate(features):
        _validate_feature(i, f, hib, errors)
    names = [f.get("name") for f in features if isinstance(f, Mapping)]
    for name in sorted({n for n in names if isinstance(n, str) and names.count(n) > 1}):
        errors.append(f"features: {name} is declared more than once")
    owners: dict[str, str] = {}
    for f in features:
        if not isinstance(f, Mapping) or not isinstance(f.get("bands"), list):
            continue
        codes = {f.get("reason")} | {b.get("reason") for b in f["bands"] if isinstance(b, Mapping)}
        for code in sorted(c for c in codes if isinstance(c, str)):
            owner = owners.setdefault(code, str(f.get("name")))
            if owner != f.get("name"):
                errors.append(
                    f"reason code {code} is used by {owner} and {f.get('name')}: one feature per code"
                )
    if len(errors) > start or base is None or threshold is None:
        return errors

    # Range checks need a structurally valid card.
    lows = [min(_decimal(b["points"]) or Decimal(0) for b in f["bands"]) for f in features]
    highs = [max(_decimal(b["points"]) or Decimal(0) for b in f["bands"]) for f in features]
    worst, best = base + sum(lows), base + sum(highs)
    if score_min is not None and worst < score_min:
        errors.append(f"score_min: the lowest achievable score ({worst}) is below score_min ({score_min})")
    if score_max is not None and best > score_max:
        errors.append(f"score_max: the highest achievable score ({best}) is above score_max ({score_max})")
    if hib and best < threshold:
        errors.append(
            f"threshold: the best achievable score ({best}) never reaches the threshold ({threshold})"
        )
    if not hib and worst >= threshold:
        errors.append(
            f"threshold: the lowest achievable score ({worst}) never goes below the threshold ({threshold})"
        )
    return errors


# ----------------------------------------------------------------------------------------------- engine


class Scorecard:
    """A validated, compiled card. Build once, evaluate many times."""

    def __init__(self, card: Mapping[str, Any]) -> None:
        errors = validate_scorecard(card)
        if errors:
            raise ScorecardError(errors)
        self.card = card
        self.base = _decimal(card["base"]) or Decimal(0)
        self.threshold = _decimal(card["threshold"]) or Decimal(0)
        self.higher_is_better: bool = card.get("higher_is_better", True)
        self.score_min = _decimal(card.get("score_min"))
        self.score_max = _decimal(card.get("score_max"))
        outcomes = card["outcomes"]
        self.pass_outcome: str = outcomes["pass"]
        self.fail_outcome: str = outcomes["fail"]
        tiers = [(_decimal(t["score"]) or Decimal(0), t["outcome"]) for t in outcomes.get("fail_tiers", [])]
        # Most extreme first: the first tier that applies wins.
        self.fail_tiers = sorted(tiers, key=lambda t: t[0], reverse=not self.higher_is_better)
        self.features: tuple[_Feature, ...] = tuple(
            self._compile(i, f) for i, f in enumerate(card["features"])
        )

    @staticmethod
    def _compile(i: int, f: Mapping[str, Any]) -> _Feature:
        default_reason = f.get("reason")
        bands = []
        for j, b in enumerate(f["bands"]):
            bands.append(
                _Band(
                    index=j,
                    points=_decimal(b["points"]) or Decimal(0),
                    reason=b.get("reason") or default_reason,
                    low=_decimal(b["min"]) if "min" in b else None,
                    high=_decimal(b["max"]) if "max" in b else None,
                    values=tuple(b.get("values", ())),
                )
            )
        return _Feature(
            index=i,
            name=f["name"],
            kind=f["kind"],
            actionable=bool(f.get("actionable", False)),
            protected=bool(f.get("protected", False)),
            step=_decimal(f.get("step", 1)) or Decimal(1),
            bands=tuple(bands),
        )

    # Goodness: points measured in the favourable direction.
    def _good(self, points: Decimal) -> Decimal:
        return points if self.higher_is_better else -points

    def _passes(self, score: Decimal) -> bool:
        return score >= self.threshold if self.higher_is_better else score < self.threshold

    def outcome_for(self, score: Decimal) -> str:
        if self._passes(score):
            return self.pass_outcome
        for cut, outcome in self.fail_tiers:
            if (score < cut) if self.higher_is_better else (score >= cut):
                return outcome
        return self.fail_outcome

    def reason_codes(self) -> dict[str, str]:
        """Every reason code the card can give, mapped to its feature's name (card order)."""
        codes: dict[str, str] = {}
        for f in self.features:
            for b in f.bands:
                if b.reason:
                    codes.setdefault(b.reason, f.name)
        return codes

    def outcome_codes(self) -> list[str]:
        codes = [self.pass_outcome, self.fail_outcome]
        codes += [o for _, o in self.fail_tiers if o not in codes]
        return codes

    @property
    def best_score(self) -> Decimal:
        return self.base + sum((max(b.points for b in f.bands) for f in self.features), Decimal(0))

    @property
    def worst_score(self) -> Decimal:
        return self.base + sum((min(b.points for b in f.bands) for f in self.features), Decimal(0))

    def evaluate(self, inputs: Mapping[str, Any]) -> ScoreResult:
        errors: list[str] = []
        placed: list[tuple[_Feature, _Band]] = []
        for f in self.features:
            if f.name not in inputs:
                errors.append(f"{f.name}: missing input")
                continue
            band = f.band_for(inputs[f.name])
            if isinstance(band, str):
                errors.append(band)
            else:
                placed.append((f, band))
        if errors:
            raise ScorecardError(errors)

        score = self.base + sum((band.points for _, band in placed), Decimal(0))
        passes = self._passes(score)
        contributions = []
        losses: list[tuple[Decimal, int, Reason]] = []
        for f, band in placed:
            best_good = max(self._good(b.points) for b in f.bands)
            best_points = self._good(best_good)
            contributions.append(Contribution(f.name, inputs[f.name], band.index, band.points, best_points))
            loss = best_good - self._good(band.points)
            if loss > 0 and band.reason:
                losses.append((loss, f.index, Reason(code=band.reason, feature=f.name, weight=loss)))
        losses.sort(key=lambda t: (-t[0], t[1]))
        reasons = [r for _, _, r in losses[:MAX_REASONS]]

        counterfactual: list[Change] = []
        reachable = True
        if not passes:
            found = self._recourse(score, placed, inputs)
            reachable = found is not None
            counterfactual = found or []
        return ScoreResult(
            score=score,
            outcome_code=self.outcome_for(score),
            adverse_side=not passes,
            reasons=reasons,
            counterfactual=counterfactual,
            counterfactual_reachable=reachable,
            contributions=contributions,
        )

    def _recourse(
        self, score: Decimal, placed: list[tuple[_Feature, _Band]], inputs: Mapping[str, Any]
    ) -> list[Change] | None:
        """Exact search for the smallest change (see the module docstring for what "smallest" means)."""
        hib = self.higher_is_better
        need = self.threshold - score if hib else score - self.threshold

        def reaches(gain: Decimal) -> bool:
            return gain >= need if hib else gain > need

        # Options per changeable feature: (gain, band steps, target band), gain > 0 only: a change that
        # gains nothing never belongs to a smallest change (dropping it changes fewer features).
        options: list[tuple[_Feature, _Band, list[tuple[Decimal, int, _Band]]]] = []
        for f, current in placed:
            if not f.actionable or f.protected:
                continue
            opts = []
            for b in f.bands:
                gain = self._good(b.points) - self._good(current.points)
                if gain > 0:
                    steps = abs(b.index - current.index) if f.kind == NUMERIC else 1
                    opts.append((gain, steps, b))
            if opts:
                options.append((f, current, opts))

        # states[(changed, gain)] = (band steps, choices); choices = ((option index, band index), ...).
        Choice = tuple[tuple[int, int], ...]
        states: dict[tuple[int, Decimal], tuple[int, Choice]] = {(0, Decimal(0)): (0, ())}
        done: dict[int, tuple[Decimal, int, Choice]] = {}
        for oi, (_f, _current, opts) in enumerate(options):
            new_states = dict(states)
            for (changed, gain), (steps, choice) in states.items():
                for g, s, band in opts:
                    key = (changed + 1, gain + g)
                    cand = (steps + s, (*choice, (oi, band.index)))
                    if reaches(key[1]):
                        full = (key[1], cand[0], cand[1])
                        if key[0] not in done or full < done[key[0]]:
                            done[key[0]] = full
                    elif key not in new_states or cand < new_states[key]:
                        new_states[key] = cand
            states = new_states
        if not done:
            return None
        _, _, choice = done[min(done)]
        changes = []
        for oi, band_index in choice:
            f, current, _opts = options[oi]
            target = f.bands[band_index]
            changes.append(
                Change(
                    feature=f.name,
                    from_value=inputs[f.name],
                    to_value=self._proposed_value(f, current, target),
                    points_gained=self._good(target.points) - self._good(current.points),
                )
            )
        return changes

    @staticmethod
    def _proposed_value(f: _Feature, current: _Band, target: _Band) -> Any:
        if f.kind == CATEGORY:
            return target.values[0]
        if target.index > current.index:
            assert target.low is not None  # noqa: S101 - every band after the first has a min
            return _to_plain(target.low)
        assert target.high is not None  # noqa: S101 - every band before the last has a max
        return _to_plain(target.high - f.step)


@functools.lru_cache(maxsize=64)
def _compiled(canonical: str) -> Scorecard:
    return Scorecard(json.loads(canonical))


def compile_card(card: Mapping[str, Any]) -> Scorecard:
    """The compiled card, cached by its canonical JSON: a batch of decisions under one version validates
    and compiles its card once. Raises ScorecardError for an invalid card (not cached)."""
    try:
        canonical = json.dumps(card, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):  # not plain JSON (a Decimal, say): compile it as it is
        return Scorecard(card)
    return _compiled(canonical)


def evaluate(card: Mapping[str, Any] | Scorecard, inputs: Mapping[str, Any]) -> ScoreResult:
    """Score ``inputs`` with ``card`` (a JSON card or a compiled Scorecard). Raises ScorecardError."""
    compiled = card if isinstance(card, Scorecard) else compile_card(card)
    return compiled.evaluate(inputs)
