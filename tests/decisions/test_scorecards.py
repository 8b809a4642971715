"""The built-in scorecard engine (decisions.scorecards): hand-worked cases and properties."""

from __future__ import annotations

import copy
import itertools
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decisions.scorecards import (
    Change,
    Reason,
    Scorecard,
    ScorecardError,
    evaluate,
    to_json_number,
    validate_scorecard,
)

# Best achievable score: 300 + 120 + 100 + 50 + 60 + 40 = 670 (passes the threshold of 600).
CREDIT: dict[str, Any] = {
    "base": 300,
    "threshold": 600,
    "score_min": 300,
    "score_max": 850,
    "outcomes": {"pass": "approved", "fail": "declined", "fail_tiers": [{"score": 450, "outcome": "refer"}]},
    "features": [
        {
            "name": "payment_history_pct",
            "kind": "numeric",
            "actionable": True,
            "reason": "PAYMENT_HISTORY",
            "bands": [
                {"max": 80, "points": 0},
                {"min": 80, "max": 95, "points": 60},
                {"min": 95, "points": 120},
            ],
        },
        {
            "name": "utilisation_pct",
            "kind": "numeric",
            "actionable": True,
            "reason": "UTILISATION",
            "bands": [
                {"max": 30, "points": 100},
                {"min": 30, "max": 50, "points": 60},
                {"min": 50, "max": 75, "points": 20},
                {"min": 75, "points": 0},
            ],
        },
        {
            "name": "months_at_address",
            "kind": "numeric",
            "actionable": False,
            "reason": "ADDRESS_STABILITY",
            "bands": [
                {"max": 12, "points": 0},
                {"min": 12, "max": 36, "points": 30},
                {"min": 36, "points": 50},
            ],
        },
        {
            "name": "hard_inquiries",
            "kind": "numeric",
            "actionable": True,
            "bands": [
                {"max": 1, "points": 60},
                {"min": 1, "max": 3, "points": 30, "reason": "INQUIRIES_SOME"},
                {"min": 3, "points": 0, "reason": "INQUIRIES_MANY"},
            ],
        },
        {
            "name": "housing",
            "kind": "category",
            "actionable": False,
            "reason": "HOUSING",
            "bands": [
                {"values": ["own"], "points": 40},
                {"values": ["rent"], "points": 20},
                {"values": ["other"], "points": 0},
            ],
        },
    ],
}


def credit_inputs(**overrides: Any) -> dict[str, Any]:
    base = {
        "payment_history_pct": 85,
        "utilisation_pct": 55,
        "months_at_address": 20,
        "hard_inquiries": 2,
        "housing": "rent",
    }
    base.update(overrides)
    return base


def test_the_score_is_the_base_plus_the_points_of_each_band() -> None:
    # 300 + 60 (payment 85) + 20 (utilisation 55) + 30 (20 months) + 30 (2 inquiries) + 20 (rent) = 460
    result = evaluate(CREDIT, credit_inputs())
    assert result.score == Decimal(460)
    assert result.adverse_side is True
    assert result.outcome_code == "declined"  # 460 is not below the "refer" tier at 450


def test_a_score_below_a_fail_tier_gives_the_tier_outcome_and_a_passing_score_the_pass_outcome() -> None:
    # 300 + 0 (payment 70) + 0 (utilisation 80) + 0 (5 months) + 0 (4 inquiries) + 0 (other) = 300 < 450
    low = credit_inputs(payment_history_pct=70, utilisation_pct=80, months_at_address=5, hard_inquiries=4)
    assert evaluate(CREDIT, {**low, "housing": "other"}).outcome_code == "refer"
    # 300 + 120 + 100 + 30 + 60 + 20 = 630 >= 600
    good = credit_inputs(payment_history_pct=97, utilisation_pct=10, hard_inquiries=0)
    result = evaluate(CREDIT, good)
    assert (result.score, result.outcome_code, result.adverse_side) == (Decimal(630), "approved", False)
    assert result.counterfactual == [] and result.counterfactual_reachable is True


def test_reasons_rank_features_by_points_lost_capped_at_four_with_ties_in_card_order() -> None:
    # Points lost against the best band: utilisation 100-20 = 80, payment 120-60 = 60, inquiries 60-30 = 30,
    # months 50-30 = 20, housing 40-20 = 20. Months and housing tie at 20: months comes first in the card,
    # so it takes the fourth place and housing is left out by the cap of four.
    result = evaluate(CREDIT, credit_inputs())
    assert result.reasons == [
        Reason("UTILISATION", "utilisation_pct", Decimal(80)),
        Reason("PAYMENT_HISTORY", "payment_history_pct", Decimal(60)),
        Reason("INQUIRIES_SOME", "hard_inquiries", Decimal(30)),
        Reason("ADDRESS_STABILITY", "months_at_address", Decimal(20)),
    ]


def test_a_band_reason_code_overrides_the_feature_reason_code() -> None:
    result = evaluate(CREDIT, credit_inputs(hard_inquiries=5))
    assert [r.code for r in result.reasons if r.feature == "hard_inquiries"] == ["INQUIRIES_MANY"]


def test_features_in_their_best_band_are_never_reasons() -> None:
    # 300 + 120 + 100 + 50 + 60 + 0 (other) = 630: only housing lost points.
    result = evaluate(
        CREDIT,
        credit_inputs(
            payment_history_pct=99, utilisation_pct=5, months_at_address=40, hard_inquiries=0, housing="other"
        ),
    )
    assert result.reasons == [Reason("HOUSING", "housing", Decimal(40))]


def test_the_counterfactual_changes_one_feature_with_the_least_overshoot() -> None:
    # 300 + 60 (payment 85) + 60 (utilisation 35) + 50 (40 months) + 60 (0 inquiries) + 40 (own) = 570:
    # 30 short.
    # One feature is enough: payment to 95 gains 60 (30 over), utilisation below 30 gains 40 (10 over).
    inputs = credit_inputs(utilisation_pct=35, months_at_address=40, hard_inquiries=0, housing="own")
    result = evaluate(CREDIT, inputs)
    assert result.score == Decimal(570)
    assert result.counterfactual == [Change("utilisation_pct", 35, 29, Decimal(40))]  # nearest value under 30
    assert result.counterfactual_reachable is True


def test_the_counterfactual_changes_two_features_when_one_is_not_enough() -> None:
    # Score 460, 140 short. The best single gains: utilisation +80, payment +60, inquiries +30: none is
    # enough.
    # Payment 85 -> 95 (+60) with utilisation 55 -> 29 (+80) gains exactly 140.
    result = evaluate(CREDIT, credit_inputs())
    assert result.counterfactual == [
        Change("payment_history_pct", 85, 95, Decimal(60)),
        Change("utilisation_pct", 55, 29, Decimal(80)),
    ]
    assert evaluate(CREDIT, apply(credit_inputs(), result.counterfactual)).score == Decimal(600)


def test_the_counterfactual_prefers_fewer_features_over_a_smaller_gain() -> None:
    # 300 + 0 (payment 70) + 60 (utilisation 35) + 50 (40 months) + 60 (0 inquiries) + 40 (own) = 510:
    # 90 short.
    # Two features: payment to 80 (+60) and utilisation under 30 (+40) gain 100 (10 over).
    # One feature: payment to 95 gains 120 (30 over). Fewer features wins.
    inputs = credit_inputs(payment_history_pct=70, utilisation_pct=35, months_at_address=40, hard_inquiries=0)
    result = evaluate(CREDIT, {**inputs, "housing": "own"})
    assert result.score == Decimal(510)
    assert result.counterfactual == [Change("payment_history_pct", 70, 95, Decimal(120))]


def test_the_counterfactual_never_changes_an_immutable_or_protected_feature() -> None:
    card = {
        "base": 0,
        "threshold": 100,
        "outcomes": {"pass": "yes", "fail": "no"},
        "features": [
            {"name": "effort", "kind": "numeric", "actionable": True, "reason": "EFFORT",
             "bands": [{"max": 10, "points": 0}, {"min": 10, "points": 60}]},
            {"name": "age_years", "kind": "numeric", "actionable": False, "reason": "AGE",
             "bands": [{"max": 5, "points": 0}, {"min": 5, "points": 100}]},
            {"name": "group", "kind": "category", "actionable": True, "protected": True, "reason": "GROUP",
             "bands": [{"values": ["x"], "points": 0}, {"values": ["y"], "points": 100}]},
            {"name": "savings", "kind": "numeric", "actionable": True, "reason": "SAVINGS",
             "bands": [{"max": 100, "points": 0}, {"min": 100, "points": 40}]},
        ],
    }  # fmt: skip
    # Score 0, 100 short. Changing age_years or group alone would do; they are immutable and protected,
    # so the answer is the two actionable features: effort +60 and savings +40.
    result = evaluate(card, {"effort": 0, "age_years": 1, "group": "x", "savings": 0})
    assert result.counterfactual == [
        Change("effort", 0, 10, Decimal(60)),
        Change("savings", 0, 100, Decimal(40)),
    ]


def test_no_counterfactual_when_no_actionable_change_reaches_the_threshold() -> None:
    # 300 + 60 (payment 85) + 20 (utilisation 55) + 0 (3 months) + 30 (2 inquiries) + 0 (other) = 410:
    # 190 short.
    # Every actionable change together gains 60 + 80 + 30 = 170 < 190; the rest is immutable.
    result = evaluate(CREDIT, credit_inputs(months_at_address=3, housing="other"))
    assert result.score == Decimal(410)
    assert result.adverse_side is True
    assert result.counterfactual == []
    assert result.counterfactual_reachable is False
    assert len(result.reasons) == 4


RISK: dict[str, Any] = {
    "base": 0,
    "threshold": 50,
    "higher_is_better": False,
    "score_min": 0,
    "score_max": 100,
    "outcomes": {
        "pass": "no_action", "fail": "restricted", "fail_tiers": [{"score": 80, "outcome": "removed"}],
    },
    "features": [
        {"name": "classifier", "kind": "numeric", "reason": "HATE_SPEECH_CLASSIFIER", "step": "0.01",
         "bands": [
             {"max": "0.5", "points": 0},
             {"min": "0.5", "max": "0.8", "points": 30},
             {"min": "0.8", "points": 60},
         ]},
        {"name": "links", "kind": "numeric", "actionable": True, "reason": "SPAM_LINKS",
         "bands": [{"max": 1, "points": 0}, {"min": 1, "max": 3, "points": 10}, {"min": 3, "points": 25}]},
    ],
}  # fmt: skip


def test_a_risk_score_is_adverse_at_or_above_the_threshold_and_its_reasons_are_points_added() -> None:
    # 0 + 30 (classifier 0.6) + 25 (4 links) = 55 >= 50: adverse, below the "removed" tier at 80.
    result = evaluate(RISK, {"classifier": 0.6, "links": 4})
    assert (result.score, result.outcome_code, result.adverse_side) == (Decimal(55), "restricted", True)
    assert result.reasons == [
        Reason("HATE_SPEECH_CLASSIFIER", "classifier", Decimal(30)),
        Reason("SPAM_LINKS", "links", Decimal(25)),
    ]
    # Needs more than 5 points off: links down to 1-2 takes 15 off (score 40), the least that is enough.
    # The nearest value inside [1, 3) from above is 3 - step = 2.
    assert result.counterfactual == [Change("links", 4, 2, Decimal(15))]
    # 0 + 60 + 25 = 85: removed; taking all 25 link points off leaves 60 >= 50: unreachable.
    severe = evaluate(RISK, {"classifier": 0.85, "links": 4})
    assert (severe.outcome_code, severe.counterfactual_reachable, severe.counterfactual) == (
        "removed",
        False,
        [],
    )
    # 0 + 30 (0.5 is the min of its band) + 10 (1 link) = 40 < 50: no action.
    passing = evaluate(RISK, {"classifier": 0.5, "links": 1})
    assert (passing.score, passing.outcome_code, passing.adverse_side) == (Decimal(40), "no_action", False)


def test_a_score_exactly_at_the_threshold_is_on_the_upper_side() -> None:
    card = copy.deepcopy(RISK)
    card["threshold"] = 40
    # 0 + 30 + 10 = 40 >= 40: a risk score at the threshold is adverse.
    assert evaluate(card, {"classifier": 0.5, "links": 1}).adverse_side is True
    # Credit: 300 + 120 + 60 (utilisation 35) + 30 + 30 + 40 (own) = 580; with 2 inquiries -> 0 it is 610,
    # and with months 20 -> 40 (immutable, but here as input) it is 600 >= 600: favourable.
    at = credit_inputs(payment_history_pct=95, utilisation_pct=35, months_at_address=40, hard_inquiries=2)
    result = evaluate(CREDIT, {**at, "housing": "own"})
    assert (result.score, result.adverse_side) == (Decimal(600), False)


def test_decimals_avoid_float_drift_at_band_edges() -> None:
    # 0.3 as a float is 0.299999...; the engine reads its decimal form, so 0.8 lands in the [0.8, ...) band.
    assert evaluate(RISK, {"classifier": 0.8, "links": 0}).score == Decimal(60)
    assert evaluate(RISK, {"classifier": "0.79", "links": 0}).score == Decimal(30)
    card = copy.deepcopy(RISK)
    card["features"][1]["bands"][1]["points"] = "12.5"
    # 0 + 30 + 12.5 = 42.5
    assert evaluate(card, {"classifier": 0.6, "links": 2}).score == Decimal("42.5")
    assert to_json_number(Decimal("42.50")) == 42.5 and to_json_number(Decimal("40.0")) == 40


def test_evaluating_twice_gives_identical_results() -> None:
    first = evaluate(CREDIT, credit_inputs())
    second = Scorecard(copy.deepcopy(CREDIT)).evaluate(credit_inputs())
    assert first == second


def test_a_changed_card_is_never_scored_with_the_cached_compilation_of_the_old_one() -> None:
    card = copy.deepcopy(CREDIT)
    assert evaluate(card, credit_inputs()).score == Decimal(460)
    card["base"] = 310  # the same dict, changed in place
    assert evaluate(card, credit_inputs()).score == Decimal(470)
    card["threshold"] = 900  # now invalid: the best achievable score is 680
    with pytest.raises(ScorecardError):
        evaluate(card, credit_inputs())


def test_missing_and_unscorable_inputs_are_refused_with_every_problem_named() -> None:
    with pytest.raises(ScorecardError) as exc:
        evaluate(CREDIT, {"payment_history_pct": "lots", "utilisation_pct": True, "housing": "castle"})
    assert sorted(exc.value.errors) == [
        "hard_inquiries: missing input",
        "housing: 'castle' is not one of the card's values",
        "months_at_address: missing input",
        "payment_history_pct: 'lots' is not a number",
        "utilisation_pct: True is not a number",
    ]


def test_a_valid_card_has_no_validation_errors() -> None:
    assert validate_scorecard(CREDIT) == []
    assert validate_scorecard(RISK) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c.pop("threshold"), "threshold: required, a number"),
        (
            lambda c: c.update(threshold=700),
            "threshold: the best achievable score (670) never reaches the threshold (700)",
        ),
        (
            lambda c: c.update(score_max=600),
            "score_max: the highest achievable score (670) is above score_max (600)",
        ),
        (lambda c: c.update(colour="red"), "unknown keys colour"),
        (
            lambda c: c["outcomes"].update(fail="approved"),
            "outcomes: pass and fail must be different outcomes",
        ),
        (
            lambda c: c["outcomes"]["fail_tiers"][0].update(score=650),
            "outcomes.fail_tiers[0].score: must be at most the threshold (600)",
        ),
        (
            lambda c: c["features"][0].update(kind="curve"),
            "features[0] (payment_history_pct).kind: must be one of",
        ),
        (
            lambda c: c["features"][0]["bands"][1].update(min=81),
            "features[0] (payment_history_pct).bands[1].min: must equal the previous band's max (80)",
        ),
        (
            lambda c: c["features"][0]["bands"][0].update(min=0),
            "features[0] (payment_history_pct).bands[0].min: the first band has no min",
        ),
        (
            lambda c: c["features"][0]["bands"][2].update(max=100),
            "features[0] (payment_history_pct).bands[2].max: the last band has no max",
        ),
        (
            lambda c: c["features"][0].update(step=20),
            "features[0] (payment_history_pct).bands[1]: max must be at least one step (20) above min",
        ),
        (
            lambda c: c["features"][4]["bands"][1]["values"].append("own"),
            "features[4] (housing).bands[1].values: 'own' appears in more than one band",
        ),
        (
            lambda c: c["features"][4].pop("reason"),
            "features[4] (housing).bands[1]: earns less than the best band, so it needs a reason code",
        ),
        (lambda c: c["features"][1].update(reason="PAYMENT_HISTORY"), "reason code PAYMENT_HISTORY"),
        (
            lambda c: c["features"][1].update(reason="too high"),
            "features[1] (utilisation_pct).reason: must be",
        ),
        (
            lambda c: c["features"][1].update(name="payment_history_pct"),
            "features: payment_history_pct is declared more than once",
        ),
        (
            lambda c: c["features"][2]["bands"][0].update(points="many"),
            "features[2] (months_at_address).bands[0].points: required",
        ),
    ],
)
def test_validation_names_each_problem(mutate: Any, expected: str) -> None:
    card = copy.deepcopy(CREDIT)
    mutate(card)
    errors = validate_scorecard(card)
    assert any(e.startswith(expected) for e in errors), errors
    with pytest.raises(ScorecardError):
        Scorecard(card)


def test_validation_refuses_what_is_not_a_card() -> None:
    assert validate_scorecard([1, 2]) == ["the scorecard must be a JSON object"]
    assert "features: required, a non-empty list" in validate_scorecard({**CREDIT, "features": []})


def test_a_risk_card_needs_a_reason_on_every_band_that_adds_points() -> None:
    card = copy.deepcopy(RISK)
    card["features"][1].pop("reason")
    errors = validate_scorecard(card)
    assert any("features[1] (links).bands[1]: earns less than the best band" in e for e in errors)
    assert not any("bands[0]: earns less" in e for e in errors)  # 0 points is the best band for a risk score


# ------------------------------------------------------------------------------------------ properties


def apply(inputs: dict[str, Any], changes: list[Change]) -> dict[str, Any]:
    return {**inputs, **{c.feature: c.to_value for c in changes}}


@st.composite
def card_and_inputs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    hib = draw(st.booleans())
    n = draw(st.integers(1, 5))
    features: list[dict[str, Any]] = []
    inputs: dict[str, Any] = {}
    for i in range(n):
        nb = draw(st.integers(1, 4))
        points = draw(st.lists(st.integers(0, 40), min_size=nb, max_size=nb))
        name = f"f{i}"
        if draw(st.booleans()):
            cuts = sorted(draw(st.lists(st.integers(0, 50), min_size=nb - 1, max_size=nb - 1, unique=True)))
            bands: list[dict[str, Any]] = []
            for j in range(nb):
                band: dict[str, Any] = {"points": points[j]}
                if j > 0:
                    band["min"] = cuts[j - 1]
                if j < nb - 1:
                    band["max"] = cuts[j]
                bands.append(band)
            kind, inputs[name] = "numeric", draw(st.integers(-5, 60))
        else:
            bands = [{"values": [f"v{j}"], "points": points[j]} for j in range(nb)]
            kind, inputs[name] = "category", f"v{draw(st.integers(0, nb - 1))}"
        features.append(
            {
                "name": name,
                "kind": kind,
                "actionable": draw(st.integers(0, 3)) > 0,  # mostly actionable, so recourse has choices
                "protected": draw(st.integers(0, 4)) == 0,
                "reason": f"R{i}",
                "bands": bands,
            }
        )
    card = {"base": 0, "threshold": 0 if hib else 10**6, "higher_is_better": hib, "features": features,
            "outcomes": {"pass": "pass", "fail": "fail"}}  # fmt: skip
    compiled = Scorecard(card)  # a provisional threshold every card reaches
    lo, hi = int(compiled.worst_score), int(compiled.best_score)
    # Thresholds towards the demanding end, so that most draws are adverse.
    card["threshold"] = (
        draw(st.integers((lo + 2 * hi) // 3, hi))
        if hib
        else draw(st.integers(lo + 1, (2 * lo + hi) // 3 + 1))
    )
    return card, inputs


def brute_force(card: dict[str, Any], inputs: dict[str, Any]) -> tuple[int, Decimal] | None:
    """(fewest features changed, least score beyond the threshold) over every band choice, or None."""
    compiled = Scorecard(card)
    current: dict[str, Any] = {f.name: f.band_for(inputs[f.name]) for f in compiled.features}
    choices: list[list[tuple[str, Any]]] = []
    for f in compiled.features:
        if f.actionable and not f.protected:
            choices.append([(f.name, b) for b in f.bands])
        else:
            choices.append([(f.name, current[f.name])])
    best: tuple[int, Decimal] | None = None
    for combo in itertools.product(*choices):
        score = compiled.base + sum((b.points for _, b in combo), Decimal(0))
        if not compiled._passes(score):
            continue
        changed = sum(1 for name, b in combo if b is not current[name])
        over = abs(score - compiled.threshold)
        if best is None or (changed, over) < best:
            best = (changed, over)
    return best


@settings(max_examples=300, deadline=None)
@given(card_and_inputs())
def test_the_counterfactual_reaches_the_threshold_with_the_fewest_features_changed(case: Any) -> None:
    card, inputs = case
    result = evaluate(card, inputs)
    if not result.adverse_side:
        assert result.counterfactual == [] and result.counterfactual_reachable
        return
    expected = brute_force(card, inputs)
    if expected is None:
        assert result.counterfactual == [] and not result.counterfactual_reachable
        return
    assert result.counterfactual_reachable
    changeable = {f["name"] for f in card["features"] if f["actionable"] and not f["protected"]}
    assert {c.feature for c in result.counterfactual} <= changeable
    after = evaluate(card, apply(inputs, result.counterfactual))
    assert after.adverse_side is False
    assert after.outcome_code == "pass"
    changed, over = expected
    assert len(result.counterfactual) == changed
    assert abs(after.score - Scorecard(card).threshold) == over
    assert after.score - result.score == sum(
        (c.points_gained if card["higher_is_better"] else -c.points_gained for c in result.counterfactual),
        Decimal(0),
    )
    assert 1 <= len(result.reasons) <= 4
    assert [r.weight for r in result.reasons] == sorted((r.weight for r in result.reasons), reverse=True)
    assert evaluate(card, inputs) == result
