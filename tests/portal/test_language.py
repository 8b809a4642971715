"""English and Spanish throughout: the notice's language is the default, the switcher changes it, every
page and error is in the chosen language, and the two catalogues match key for key."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from django.test import Client

from appeals.models import Appeal, DataDispute, ExplanationRequest
from appeals.workflow import State
from decisions.models import Decision
from portal.text import EN, ES
from tests.portal.conftest import APPEAL_ANSWERS, errors_of, page, record_case, sign_in, walk

PORTAL = Path(__file__).resolve().parents[2] / "portal"
TEMPLATES = [
    *sorted((PORTAL / "templates" / "portal").glob("*.html")),
    PORTAL.parent / "templates" / "base.html",
]


def _placeholders(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def test_both_languages_have_the_same_keys_and_the_same_placeholders() -> None:
    assert set(EN) == set(ES)
    for key in EN:
        assert EN[key].strip() and ES[key].strip(), key
        assert _placeholders(EN[key]) == _placeholders(ES[key]), key


def test_the_spanish_texts_are_translated() -> None:
    same = {k for k in EN if EN[k] == ES[k]}
    assert same <= {"no", "error_prefix", "bytes"}, same


def _used_keys() -> set[str]:
    keys: set[str] = set()
    for path in TEMPLATES:
        text = path.read_text()
        keys |= set(re.findall(r"\{\{ ?t\.([a-z0-9_]+)", text))
        keys |= set(re.findall(r"[ |:]t\.([a-z0-9_]+)", text))
        keys |= set(re.findall(r'\{% say "([a-z0-9_]+)"', text))
    for path in PORTAL.glob("*.py"):
        text = path.read_text()
        keys |= set(
            re.findall(r'(?:say\([a-z_.]+, |\bt\[|ctx\.text\(|TEXT\[[a-z_.]+\]\[)"([a-z0-9_]+)"', text)
        )
        keys |= set(
            re.findall(r'"((?:q|e|f|opt|sum|check|send|declare|err|flash|tl|read|see)_[a-z0-9_]+)"', text)
        )
    return keys


def test_every_text_a_page_or_view_names_exists() -> None:
    used = _used_keys()
    assert len(used) > 150
    missing = sorted(k for k in used if k not in EN)
    assert not missing, missing


def test_every_state_has_words_in_both_languages() -> None:
    from appeals.models import Appeal as A

    needed = {f"status_{s}" for s in Decision.Status.values}
    needed |= {f"astatus_{s.value}" for s in State} | {"astatus_submitted_late"}
    needed |= {f"dstatus_{s}" for s in DataDispute.Status.values} | {
        f"tl_dispute_{s}" for s in DataDispute.Status.values
    }
    needed |= {f"estatus_{s}" for s in ExplanationRequest.Status.values}
    needed |= {f"tl_outcome_{o}" for o in A.Outcome.values}
    needed |= {f"opt_contact_{c}" for c in A.ContactPreference.values}
    needed |= {f"route_{k}" for k in ("ombudsman", "odr", "court", "regulator", "other")}
    assert not sorted(needed - set(EN))


@pytest.mark.django_db
def test_a_spanish_speaker_sees_spanish_from_the_start(client: Client) -> None:
    case = record_case(language="es")
    sign_in(client, case.decision)
    html = page(client.get("/portal/decision/"))
    assert '<html lang="es">' in html
    assert "Denegado" in html and "Puede apelar hasta el" in html and "Qué puede hacer" in html


@pytest.mark.django_db
def test_the_whole_appeal_journey_works_in_spanish_and_files_a_spanish_appeal(client: Client) -> None:
    case = record_case(language="en")
    sign_in(client, case.decision)
    client.get("/portal/decision/", {"lang": "es"})
    start = page(client.get("/portal/appeal/"))
    assert "Apelar esta decisión" in start and "Empezar" in start
    response = client.post("/portal/appeal/reason/", {"statement": ""})
    assert errors_of(response) == ["Escriba por qué cree que la decisión está mal"]
    assert "<title>Hay un problema: ¿Por qué cree que la decisión está mal?" in page(response)
    pages = []
    for slug, data in APPEAL_ANSWERS:
        pages.append(page(client.get(f"/portal/appeal/{slug}/")))
        walk(client, "appeal", [(slug, data)])
    check = page(client.get("/portal/appeal/check/"))
    assert "Revise sus respuestas antes de enviar su apelación" in check and "Enviar apelación" in check
    assert "Solo en esta web" in check and check.count(">Cambiar<") == 6
    location = client.post("/portal/appeal/check/")["Location"]
    sent = page(client.get(location))
    assert "Apelación enviada" in sent and "Le diremos el resultado antes del" in sent
    assert Appeal.objects.get(decision=case.decision).language == "es"
    for html in [start, *pages, check, sent]:
        assert '<html lang="es">' in html
        assert "Continue" not in html and "Back to your decision" not in html


@pytest.mark.django_db
def test_no_page_shows_an_unfilled_placeholder(client: Client) -> None:
    case = record_case()
    sign_in(client, case.decision)
    walk(client, "appeal", APPEAL_ANSWERS)
    for lang in ("en", "es"):
        client.get("/portal/decision/", {"lang": lang})
        for path in [
            "/portal/decision/",
            "/portal/appeal/",
            "/portal/case-file/",
            "/portal/appeal/check/",
        ] + [f"/portal/appeal/{slug}/" for slug, _ in APPEAL_ANSWERS]:
            html = page(client.get(path))
            assert not re.search(r"\{[a-z_]+\}", html), (lang, path)


def _readable(text: str) -> str:
    return re.sub(r"\{[a-z_]+\}", "it", text)


@pytest.mark.parametrize(("lang", "texts"), [("en", EN), ("es", ES)])
def test_the_words_are_plain_enough_for_a_reading_age_of_about_nine(lang: str, texts: dict[str, str]) -> None:
    from decisions.readability import WARN_ABOVE_GRADE, readability

    whole = readability("\n".join(_readable(t) for t in texts.values()), lang)
    assert whole.grade <= 5, whole  # the portal as a whole reads well below the warning line
    hard = {
        key: round(readability(_readable(text), lang).grade, 1)
        for key, text in texts.items()
        if len(text.split()) > 12 and readability(_readable(text), lang).grade > WARN_ABOVE_GRADE
    }
    assert not hard, hard
