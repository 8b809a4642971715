"""S8 layered explanations, rendered from the stored record; S9 reproducible; S14 readability figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest

from decisions.explanations import format_date, format_number, format_value, render_explanation
from decisions.readability import (
    fernandez_huerta,
    flesch_kincaid_grade,
    readability,
    syllables_en,
    syllables_es,
    szigriszt_pazos,
)
from tests.decisions.builders import make_decision

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("language", ["en", "es"])
def test_rendering_twice_gives_identical_text(language: str) -> None:
    decision, _ = make_decision(language=language)
    first = render_explanation(decision, language).text
    # Another day, another process: nothing in the text may depend on the clock or on cached objects.
    later = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    with mock.patch("django.utils.timezone.now", return_value=later):
        decision.refresh_from_db()
        second = render_explanation(type(decision).objects.get(pk=decision.pk), language).text
    assert first == second


def test_the_english_explanation_has_every_layer() -> None:
    decision, _ = make_decision(language="en")
    r = render_explanation(decision, "en")
    assert r.rationale == [
        "You missed some payments in the last 12 months.",
        "Your income is low compared with the limit you asked for.",
    ]
    assert "Example Institution" in r.responsibility.statement
    assert "review@institution.example" in r.responsibility.ask_human
    labels = {d.label: d for d in r.data}
    assert labels["Monthly income"].value == "2,100.5 EUR"
    assert labels["Monthly income"].source == "Your application"
    assert labels["Monthly income"].as_of == "1 March 2027"
    assert r.counterfactual == ["Payments made on time: 95 % instead of 82 %"]
    assert r.performance == "Right 9 times out of 10 in tests."
    assert r.fairness == "Checked every month for unfair results."
    assert r.score == "540 (between 300 and 850)"
    assert "No person checked it" in r.automation


def test_the_spanish_explanation_is_in_spanish_with_spanish_dates_and_numbers() -> None:
    decision, _ = make_decision(language="es")
    r = render_explanation(decision, "es")
    assert r.rationale[0] == "No pagó a tiempo algunas cuotas en los últimos 12 meses."
    data = {d.label: d for d in r.data}
    assert data["Ingresos al mes"].value == "2.100,5 EUR"
    assert data["Ingresos al mes"].as_of == "1 de marzo de 2027"
    assert r.counterfactual == ["Pagos hechos a tiempo: 95 % en lugar de 82 %"]
    assert r.score == "540 (entre 300 y 850)"
    assert "Por qué decidimos esto" in r.text
    assert "Right 9 times" not in r.text


def test_an_unknown_language_falls_back_to_english() -> None:
    decision, _ = make_decision(language="fr")
    assert render_explanation(decision, "fr").language == "en"
    assert render_explanation(decision, "es-MX").language == "es"


def test_without_a_stored_explanation_it_renders_from_the_recorded_reasons_and_inputs() -> None:
    decision, _ = make_decision(with_explanation=False)
    r = render_explanation(decision, "en")
    assert r.rationale[0] == "You missed some payments in the last 12 months."
    assert {d.label for d in r.data} == {"Payments made on time", "Monthly income"}
    assert r.counterfactual == []
    assert "No change" in r.counterfactual_intro


def test_a_favourable_decision_says_it_is_in_the_persons_favour() -> None:
    decision, _ = make_decision(adverse=False)
    r = render_explanation(decision, "en")
    assert r.counterfactual_intro == "This decision is in your favour."
    assert r.rationale == []


def test_dates_and_numbers_are_formatted_by_fixed_rules_per_language() -> None:
    assert format_date(dt.date(2027, 9, 1), "en") == "1 September 2027"
    assert format_date(dt.date(2027, 9, 1), "es") == "1 de septiembre de 2027"
    assert format_date("2027-12-31", "es") == "31 de diciembre de 2027"
    assert format_number(Decimal("1234567.8900"), "en") == "1,234,567.89"
    assert format_number(Decimal("1234567.8900"), "es") == "1.234.567,89"
    assert format_number(Decimal("-5.00"), "en") == "-5"
    assert format_value(True, "es") == "Sí"
    assert format_value("own_home", "en") == "own home"


# ------------------------------------------------------------------------------------------ readability


@pytest.mark.parametrize(
    ("word", "count"),
    [("cat", 1), ("table", 2), ("makes", 1), ("decided", 3), ("information", 4), ("appeal", 2), ("free", 1)],
)
def test_english_syllables_are_counted(word: str, count: int) -> None:
    assert syllables_en(word) == count


@pytest.mark.parametrize(
    ("word", "count"),
    [("gato", 2), ("pescado", 3), ("que", 1), ("guerra", 2), ("país", 2), ("ciudad", 2), ("aire", 2),
     ("información", 4), ("hay", 1), ("día", 2)],
)  # fmt: skip
def test_spanish_syllables_follow_the_spelling_rules(word: str, count: int) -> None:
    assert syllables_es(word) == count


def test_flesch_kincaid_on_a_known_sentence() -> None:
    # 6 words, 6 syllables, 1 sentence: 0.39 * 6 + 11.8 * 1 - 15.59 = -1.45
    assert flesch_kincaid_grade("The cat sat on the mat.") == -1.45
    # We-looked-at-your-ap-pli-ca-tion-to-day (10) / Your-in-come-was-low-er-than-our-lim-it (10)
    text = "We looked at your application today. Your income was lower than our limit."
    r = readability(text, "en")
    assert (r.sentences, r.words, r.syllables) == (2, 13, 20)
    assert r.grade == round(0.39 * 13 / 2 + 11.8 * 20 / 13 - 15.59, 2)


def test_spanish_ease_scores_on_a_known_text() -> None:
    text = "El gato come pescado. La casa es bonita."  # 2 sentences, 8 words, 15 syllables
    assert fernandez_huerta(text) == round(206.84 - 0.60 * 187.5 - 1.02 * 25, 2)
    assert szigriszt_pazos(text) == round(206.835 - 62.3 * 15 / 8 - 4, 2)
    r = readability(text, "es")
    assert r.grade == round(-0.205 * 25 + 0.049 * 187.5 - 3.407, 2)
    assert r.warning == ""


def test_hard_text_is_warned_about() -> None:
    text = (
        "Notwithstanding the aforementioned considerations, the institution's determination "
        "regarding eligibility necessitates comprehensive documentation substantiating "
        "extraordinary circumstances."
    )
    r = readability(text, "en")
    assert r.grade > 8
    assert "above 8" in r.warning
