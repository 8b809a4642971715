"""The published system explanation (S4): a public page per decision system and version, with no sign-in.

Its role in the decision, the legal basis, who runs it and whom to ask, the information it uses and where
that comes from, the logic in plain words, how well it works and how fairness is checked, the reasons it can
give, its outcomes, and how to challenge a decision; in English and Spanish, from the stored records only.
"""

from __future__ import annotations

import re
import string
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from core.actors import SYSTEM
from decisions import scorecards, services
from decisions.models import DataContext, Decision, DecisionInput, DecisionSystem, Feature, ImpactLevel
from portal.views_systems import WORDS
from tests.decisions.builders import make_decision, make_system, make_version
from tests.factories import (
    FeatureFactory,
    OutcomeFactory,
    ReasonCodeFactory,
    SystemVersionFactory,
    decision_payload,
    live_system,
    populate_version,
)
from tests.portal.conftest import page, record_case, sign_in

pytestmark = pytest.mark.django_db

INDEX = "/portal/systems/"


def url(system: DecisionSystem) -> str:
    return f"/portal/systems/{system.slug}/"


def text_of(html: str) -> str:
    """The page's words without tags, with HTML entities for quotes put back and spaces squeezed."""
    body = re.sub(r"<[^>]+>", " ", html).replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&")
    return re.sub(r"\s+", " ", body)


# ------------------------------------------------------------------------------------------ the words


def _placeholders(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_words_with_the_same_placeholders() -> None:
    assert set(WORDS["en"]) == set(WORDS["es"])
    for key, english in WORDS["en"].items():
        assert english.strip() and WORDS["es"][key].strip(), key
        assert english != WORDS["es"][key], key
        assert _placeholders(english) == _placeholders(WORDS["es"][key]), key


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_words_are_as_plain_as_the_rest_of_the_portal(lang: str) -> None:
    """The same line as the portal's own words (tests/portal/test_language.py): grade 8 at most for any
    longer text, and the whole well below it."""
    from decisions.readability import WARN_ABOVE_GRADE, readability

    def readable(text: str) -> str:
        return re.sub(r"\{[a-z_]+\}", "it", text)

    texts = WORDS[lang]
    assert readability("\n".join(readable(t) for t in texts.values()), lang).grade <= 5
    hard = {
        key: round(readability(readable(text), lang).grade, 1)
        for key, text in texts.items()
        if len(text.split()) > 12 and readability(readable(text), lang).grade > WARN_ABOVE_GRADE
    }
    assert not hard, hard


# ------------------------------------------------------------------------------------------ the list


def test_the_list_shows_live_and_suspended_systems_with_a_one_line_purpose_and_never_a_draft(
    client: Client,
) -> None:
    live, _ = live_system(name="Card limits", purpose="Decide card limits. It looks at your income.\nMore.")
    suspended, _ = live_system(name="Housing support", status=DecisionSystem.Status.SUSPENDED)
    draft, _ = live_system(name="Secret pilot", status=DecisionSystem.Status.DRAFT)

    response = client.get(INDEX)

    html = page(response)
    assert response.status_code == 200
    assert f'href="{url(live)}"' in html and f'href="{url(suspended)}"' in html
    assert "Decide card limits." in html
    assert "It looks at your income." not in html  # one line: the first sentence only
    assert ">Suspended</strong>" in html
    assert "Secret pilot" not in html and url(draft) not in html


def test_the_list_is_in_spanish_when_asked(client: Client) -> None:
    live_system(name="Card limits")

    html = page(client.get(INDEX + "?lang=es"))

    assert '<html lang="es">' in html
    assert "Cómo funcionan nuestros sistemas de decisión" in html


# ------------------------------------------------------------------------------------------ the page


@pytest.fixture
def credit() -> tuple[DecisionSystem, Any]:
    system, version = live_system(
        name="Card limits",
        owner_organisation="Northwind Bank",
        purpose="Decide the credit limit on card applications.",
        legal_basis="Consumer Credit Act, section 18.",
        public_explanation="A points card adds up six facts.",
        appeal_window_days=60,
        review_due_days=30,
    )
    return system, version


def test_the_page_explains_the_system_from_its_records_in_english(
    client: Client, credit: tuple[DecisionSystem, Any]
) -> None:
    system, _ = credit

    response = client.get(url(system))

    assert response.status_code == 200
    text = text_of(page(response))
    # Its role in the decision, the legal basis, who runs it and whom to ask.
    assert "Card limits" in text and "Decide the credit limit on card applications." in text
    assert "A points card adds up six facts." in text
    assert "Area Credit" in text
    assert "Level II of IV: some impact" in text
    assert "The system can make a decision on its own." in text
    assert "If you appeal, a person always looks at your case again." in text
    assert "The law that allows it Consumer Credit Act, section 18." in text
    assert "Northwind Bank runs this system and is responsible for its decisions." in text
    assert (
        "To ask a person to look at a decision, contact Review Team, review@institution.example, "
        "+34 900 000 000." in text
    )
    # The information it uses: each feature's label, source and whether the person can change it.
    assert (
        "Annual income You can change this. Comes from: Application form Kind of information: Income" in text
    )
    assert "Years at address You cannot change this. Comes from: Institution records" in text
    # The logic, accuracy and fairness, in the version's own words; the score scale.
    assert "Points for each factor are added up." in text
    assert (
        "Scores go from 300 to 850. A higher score is better. The decision changes at a score of 600." in text
    )
    assert "How well the system works Correct in 92 of 100 test cases." in text
    assert "Right in tests 92%" in text
    assert "How we check it is fair Outcomes were compared across age groups." in text
    # The principal factors and the outcomes.
    assert "Your income is low for this credit limit." in text
    assert "You paid late several times in the last 12 months." in text
    assert "Declined Declined. This goes against you. You can appeal." in text
    assert "Approved Approved. This is in your favour." in text
    # How to seek recourse.
    assert "You can appeal within 60 days of the decision." in text
    assert "Appealing is free. You do not need a lawyer." in text
    assert "If you appeal in time, we wait. The decision does not apply until a person has looked" in text
    assert "A person decides on your appeal within 30 days." in text
    assert "If any information we used about you is wrong, tell us." in text
    assert "You can ask us to explain a decision in more detail." in text
    assert "Ombudsman: Financial Ombudsman" in text
    assert 'href="https://ombudsman.example"' in page(response)
    assert 'href="/portal/"' in page(response)  # the way in to one's own decision
    # The version.
    assert "This page describes version 1.0, in use since" in text


def test_the_page_is_in_spanish_with_the_switcher_and_stays_spanish(
    client: Client, credit: tuple[DecisionSystem, Any]
) -> None:
    system, _ = credit

    html = page(client.get(url(system) + "?lang=es"))
    again = page(client.get(url(system)))  # the choice is remembered, as on every portal page

    for body in (html, again):
        text = text_of(body)
        assert '<html lang="es">' in body
        assert "Cómo funciona este sistema" in text
        assert "Ámbito Crédito" in text
        assert "Nivel II de IV: algo de impacto" in text
        assert "Se suman los puntos de cada factor." in text
        assert "Cómo funciona el sistema Acierta en 92 de cada 100 casos de prueba." in text
        assert "Aciertos en las pruebas 92 %" in text
        assert "Cómo comprobamos que es justo Se compararon resultados por edad." in text
        assert "Sus ingresos son bajos para este límite de crédito." in text
        assert "Denegado Denegado. Es en su contra. Puede apelar." in text
        assert "Puede apelar en los 60 días siguientes a la decisión." in text
        assert "Apelar es gratis. No necesita abogado." in text
        assert "Para pedir que una persona revise una decisión, contacte con Review Team" in text
        assert "Defensor del Pueblo: Financial Ombudsman" in text
        assert "Las puntuaciones van de 300 a 850." in text
        assert "The main reasons" not in text and "How well the system works" not in text
    assert '<a href="?lang=en" hreflang="en" lang="en">English</a>' in html


def test_a_browser_that_prefers_spanish_gets_spanish(
    client: Client, credit: tuple[DecisionSystem, Any]
) -> None:
    system, _ = credit

    html = page(client.get(url(system), HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9"))

    assert '<html lang="es">' in html


def test_a_suspended_system_says_new_adverse_decisions_are_checked_by_a_person_first(client: Client) -> None:
    system, _ = live_system()
    services.system_suspend(system=system, actor=SYSTEM, reason="overturn rate above the limit")

    english = text_of(page(client.get(url(system) + "?lang=en")))
    spanish = text_of(page(client.get(url(system) + "?lang=es")))

    assert (
        "This system is suspended. New decisions that go against someone are checked by a person first."
        in (english)
    )
    assert "The system is suspended for now. If a new decision goes against someone, a person checks it" in (
        english
    )
    assert "The system can make a decision on its own." not in english
    assert (
        "Este sistema está suspendido. Una persona revisa primero cada nueva decisión en contra de" in spanish
    )


def test_a_live_system_does_not_say_it_is_suspended(
    client: Client, credit: tuple[DecisionSystem, Any]
) -> None:
    system, _ = credit

    assert "suspended" not in text_of(page(client.get(url(system))))


def test_at_high_impact_it_says_a_person_checks_every_adverse_decision_and_a_second_one_the_appeal(
    client: Client,
) -> None:
    system, _ = live_system(impact_level=ImpactLevel.III, blind_review=True)

    text = text_of(page(client.get(url(system))))

    assert "Level III of IV: high impact" in text
    assert (
        "If a decision goes against someone, a person checks it first. Only then does it take effect." in text
    )
    assert "That person first looks at your case without seeing what the system decided." in text
    assert "If they decide that a decision against you stays, a second person checks that." in text
    assert "The system can make a decision on its own." not in text


def test_a_draft_system_an_unknown_system_and_an_unknown_version_answer_not_found(client: Client) -> None:
    draft, _ = live_system(status=DecisionSystem.Status.DRAFT, name="Secret pilot")
    live, _ = live_system()

    for address in (url(draft), "/portal/systems/no-such-system/", url(live) + "?version=9.9"):
        response = client.get(address)
        assert response.status_code == 404, address
        assert "We could not find this system" in page(response)
        assert "Secret pilot" not in page(response)
        assert response["Content-Security-Policy"].startswith("default-src 'none'")


def test_the_pages_need_no_sign_in_carry_the_portal_headers_and_take_no_posts(
    client: Client, credit: tuple[DecisionSystem, Any]
) -> None:
    system, _ = credit

    for address in (INDEX, url(system)):
        response = client.get(address)
        assert response.status_code == 200
        assert "default-src 'none'" in response["Content-Security-Policy"]
        assert "script-src" not in response["Content-Security-Policy"]  # no scripts at all
        assert response["X-Content-Type-Options"] == "nosniff"
        assert client.post(address).status_code == 405
    assert "<script" not in page(client.get(url(system)))


# ------------------------------------------------------------------------------------------ versions


def _second_version(system: DecisionSystem) -> Any:
    newer = SystemVersionFactory.create(
        system=system,
        version="2.0",
        logic={"en": "Version two weighs recent payments more.", "es": "La versión dos pesa más los pagos."},
        released_at=timezone.now() + timedelta(seconds=1),
    )
    populate_version(newer)
    return newer


def test_the_current_version_is_shown_an_earlier_one_on_request_and_every_version_is_listed(
    client: Client, credit: tuple[DecisionSystem, Any]
) -> None:
    system, _first = credit
    _second_version(system)

    current = page(client.get(url(system)))
    earlier = page(client.get(url(system) + "?version=1.0"))

    assert "Version two weighs recent payments more." in current
    assert "Points for each factor are added up." not in current
    assert "This page describes version 2.0, in use since" in text_of(current)
    assert '<a href="?version=1.0">Version 1.0</a>' in current
    assert "<strong>Version 2.0</strong> (this page) (in use now)" in current

    assert "Points for each factor are added up." in earlier
    assert "Version two weighs recent payments more." not in earlier
    assert "This page describes version 1.0. It is not the version in use now." in text_of(earlier)
    assert f'<a href="{url(system)}">See the current version (2.0)</a>' in earlier
    assert "<strong>Version 1.0</strong> (this page)" in earlier


def test_the_language_switcher_keeps_the_version_being_read(
    client: Client, credit: tuple[DecisionSystem, Any]
) -> None:
    system, _ = credit
    _second_version(system)

    earlier = page(client.get(url(system) + "?version=1.0"))
    spanish = page(client.get(url(system) + "?version=1.0&lang=es"))

    assert '<a href="?version=1.0&amp;lang=es" hreflang="es" lang="es">Español</a>' in earlier
    assert "Se suman los puntos de cada factor." in spanish  # version 1.0, in Spanish


def test_a_built_in_scorecard_is_written_out_band_by_band(client: Client) -> None:
    system, version = live_system()
    card = {
        "base": 300,
        "threshold": 600,
        "score_min": 300,
        "score_max": 850,
        "outcomes": {"pass": "approved", "fail": "declined"},
        "features": [
            {
                "name": "annual_income",
                "kind": "numeric",
                "reason": "INCOME_LOW",
                "bands": [
                    {"max": 20000, "points": 0},
                    {"min": 20000, "max": 40000, "points": 150},
                    {"min": 40000, "points": 300},
                ],
            },
            {
                "name": "years_at_address",
                "kind": "category",
                "reason": "SHORT_RESIDENCE",
                "bands": [{"values": [0, 1], "points": 0}, {"values": [2, 3, 4], "points": 250}],
            },
        ],
    }
    assert scorecards.validate_scorecard(card) == []
    version.scorecard = card
    version.save(update_fields=["scorecard"])

    text = text_of(page(client.get(url(system))))
    spanish = text_of(page(client.get(url(system) + "?lang=es")))

    assert "The points in full" in text
    assert "Everyone starts with 300 points." in text
    assert "Annual income less than 20,000: 0 points from 20,000 up to 40,000: 150 points" in text
    assert "40,000 or more: 300 points" in text
    assert "Years at address 0, 1: 0 points 2, 3, 4: 250 points" in text
    assert "desde 20.000 hasta menos de 40.000: 150 puntos" in spanish


# ------------------------------------------------------------------------------------------ people involved


def test_it_gives_the_share_of_the_versions_decisions_made_by_the_system_alone_and_with_people(
    client: Client,
) -> None:
    system = make_system("credit")
    make_version(system)
    for automation in ("full", "full", "partial"):
        make_decision(system, automation=automation)

    text = text_of(page(client.get(url(system))))
    spanish = text_of(page(client.get(url(system) + "?lang=es")))

    assert "Decisions made with this version so far:" in text
    assert "Made by the system alone 2 of 3 (67%)" in text
    assert "Suggested by the system and checked by a person 1 of 3 (33%)" in text
    assert "Made by a person 0 of 3 (0%)" in text
    assert "Tomadas solo por el sistema 2 de 3 (67 %)" in spanish


def test_a_version_without_decisions_says_so(client: Client, credit: tuple[DecisionSystem, Any]) -> None:
    system, _ = credit

    assert "No decisions have been made with this version yet." in text_of(page(client.get(url(system))))


# ------------------------------------------------------------------------------------------ no personal data


def test_it_shows_no_personal_data_and_no_ones_values_not_even_of_a_protected_attribute(
    client: Client,
) -> None:
    system = make_system("public_benefits", impact_level=2)
    version = make_version(system)
    disability = Feature.objects.create(
        version=version,
        name="disability_supplement",
        label={"en": "Disability supplement", "es": "Complemento por discapacidad"},
        data_type=Feature.DataType.CATEGORY,
        source="Disability register",
        context=DataContext.HEALTH,
        protected=True,
        legal_basis="Housing Support Act s.12; GDPR Art. 9(2)(b).",
    )
    decision, code = make_decision(
        system, name="Ana García", email="ana.garcia@mail.example", external_ref="CUST-PRIVATE-77"
    )
    DecisionInput.objects.create(
        decision=decision, feature=disability, value="wheelchair-user-level-3", source="Disability register"
    )

    html = page(client.get(url(system)))
    text = text_of(html)

    assert "Disability supplement" in text
    assert "This is about a protected characteristic, such as age or health. We use it only because: " in text
    assert "Housing Support Act s.12; GDPR Art. 9(2)(b)." in text
    for private in (
        "wheelchair-user-level-3",
        "Ana García",
        "Ana Garc&#237;a",
        "ana.garcia@mail.example",
        "CUST-PRIVATE-77",
        decision.public_reference,
        decision.subject.pseudonym,
        code,
        "1900",  # the household income this person gave
    ):
        assert private not in html, private


# ------------------------------------------------------------------------------------------ queries


def test_the_page_costs_a_constant_number_of_queries(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    system, version = live_system()
    client.get(url(system) + "?lang=en")  # a session exists from here on, as for a returning reader
    with django_assert_max_num_queries(8) as small:
        assert client.get(url(system)).status_code == 200
    # Many more features, reason codes, outcomes, versions and decisions.
    for n in range(12):
        feature = FeatureFactory.create(version=version, context=DataContext.INCOME)
        ReasonCodeFactory.create(version=version, feature=feature, code=f"EXTRA_{n}")
        OutcomeFactory.create(version=version)
    for n in range(5):
        populate_version(SystemVersionFactory.create(system=system, version=f"0.{n}"))
    for _ in range(6):
        services.decision_record(data=decision_payload(system, version), actor=SYSTEM)

    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(url(system) + "?version=1.0").status_code == 200
    with django_assert_max_num_queries(2):
        assert client.get(INDEX).status_code == 200


# ------------------------------------------------------------------------------------------ the decision page


def test_the_decision_page_links_to_how_its_system_works_in_the_persons_language(client: Client) -> None:
    case = record_case(language="es")
    sign_in(client, case.decision)

    html = page(client.get("/portal/decision/"))

    system = case.decision.system
    link = f'<a href="/portal/systems/{system.slug}/?version={case.decision.version.version}&amp;lang=es">'
    assert link + "Cómo funciona este sistema</a>" in html
    followed = page(client.get(f"/portal/systems/{system.slug}/?version=1.0&lang=es"))
    assert "Se suman los puntos de cada factor." in followed
    # Following the link keeps the person's session and language.
    assert '<html lang="es">' in page(client.get("/portal/decision/"))
    assert Decision.objects.filter(pk=case.decision.pk).exists()
