"""The pure rules of decisions.policy (S1, S2, S3, S6, S7)."""

from __future__ import annotations

import pytest

from decisions import policy


@pytest.mark.parametrize(
    ("score", "max_score", "level"),
    [
        (0, 100, 1),
        (25, 100, 1),
        (26, 100, 2),
        (50, 100, 2),
        (51, 100, 3),
        (75, 100, 3),
        (76, 100, 4),
        (1, 1, 4),
    ],
)
def test_the_impact_level_follows_the_aia_bands(score, max_score, level):
    assert policy.impact_level_for_score(score, max_score) == level


def test_an_impossible_aia_score_is_an_error():
    with pytest.raises(ValueError):
        policy.impact_level_for_score(101, 100)
    with pytest.raises(ValueError):
        policy.impact_level_for_score(1, 0)


@pytest.mark.parametrize(("level", "reviews"), [(1, 0), (2, 1), (3, 1), (4, 2)])
def test_peer_reviews_grow_with_the_level(level, reviews):
    assert policy.peer_reviews_required(level) == reviews


@pytest.mark.parametrize(
    "text",
    [
        "INSUFFICIENT_SCORE",
        "insufficient score",
        "Internal standards",
        "INTERNAL_POLICY",
        "Applicant does not meet our criteria.",
        "does-not-meet-criteria",
        "OTHER",
        "other",
        "Policy",
        "Score too low",
        "Your credit score is too low",
        "You failed to achieve the qualifying score",
        "Puntuación insuficiente",
        "No cumple los criterios",
        "",
        "   ",
    ],
)
def test_generic_reasons_are_recognised_however_they_are_written(text):
    assert policy.is_generic_reason(text)


@pytest.mark.parametrize(
    "text",
    [
        "INCOME_LOW",
        "Your income is low for this credit limit.",
        "You paid late several times in the last 12 months.",
        "Other income was not verified",
        "Your post attacks people for who they are.",
        "Sus ingresos son bajos.",
    ],
)
def test_specific_reasons_are_not_mistaken_for_generic_ones(text):
    assert not policy.is_generic_reason(text)


@pytest.mark.parametrize(
    ("domain", "context", "protected", "basis", "code"),
    [
        ("credit", "income", False, "", None),
        ("credit", "social_behaviour", False, "", "social-scoring"),
        ("public_benefits", "social_behaviour", True, "law", "social-scoring"),
        ("credit", "content", False, "", "unrelated-context"),
        ("content_moderation", "income", False, "", "unrelated-context"),
        ("employment", "education", False, "", None),
        ("public_benefits", "health", False, "", "special-category-not-protected"),
        ("public_benefits", "health", True, "", "protected-without-legal-basis"),
        ("public_benefits", "health", True, "Disability act", None),
        ("credit", "health", True, "law", "unrelated-context"),
        ("credit", "identity", True, "", "protected-without-legal-basis"),
    ],
)
def test_each_domain_accepts_only_related_contexts(domain, context, protected, basis, code):
    problem = policy.context_problem(domain, context, protected=protected, legal_basis=basis)
    assert (problem[0] if problem else None) == code


@pytest.mark.parametrize(
    ("kinds", "detection", "level", "human_decided"),
    [
        ([], True, "full", False),
        (["detection"], False, "full", False),
        (["review"], True, "partial", False),
        (["approval"], True, "partial", True),
        (["detection", "decision"], False, "none", True),
    ],
)
def test_automation_is_derived_from_human_involvement(kinds, detection, level, human_decided):
    flags = policy.derive_automation(kinds)
    assert (flags.automated_detection, flags.level, flags.human_decided) == (detection, level, human_decided)
    assert flags.automated_decision is (level != "none")


def test_dsa_names_of_the_automation_flags():
    flags = policy.derive_automation(["review"])
    assert (flags.dsa_automated_detection, flags.dsa_automated_decision) == (
        "Yes",
        "AUTOMATED_DECISION_PARTIALLY",
    )
