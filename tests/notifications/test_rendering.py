"""notifications.rendering: compiled templates render exactly what Django renders, or are left to Django."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.template import Context, Engine, engines
from django.utils import translation
from django.utils.safestring import mark_safe

from decisions import notices
from notifications.rendering import compile_template, render_template, template_renderer

PARENT = """<{% block title %}Base title{% endblock %}>
{% block body %}base body {{ who }}{% block inner %}base inner{% endblock %}{% endblock %}
{% autoescape off %}[{% block raw %}{{ markup }}{% endblock %}]{% endautoescape %}
{% block tail %}tail {{ markup }}{% endblock %}"""
MIDDLE = """{% extends "parent.html" %}{% block title %}Middle {{ who }}{% endblock %}
{% block inner %}middle inner {{ markup }}{% endblock %}ignored text"""
CHILD = """{% extends "middle.html" %}{% load static %}{% comment %}not shown{% endcomment %}
{% block raw %}child raw {{ markup }} & {{ who }}{% endblock %}{% block inner %}child inner{% endblock %}"""

SUPPORTED = {
    "text": "Plain text, no tags: <b>&amp;</b>",
    "variables": "{{ s }}|{{ n }}|{{ f }}|{{ dec }}|{{ yes }}|{{ none }}|{{ missing }}|{{ d.k }}"
    "|{{ d.missing }}|{{ l.1 }}|{{ l.9 }}|{{ obj.attr }}|{{ obj.method }}|{{ obj.needs_args }}"
    "|{{ obj.dangerous }}|{{ obj.keep }}|{{ d.items }}|{{ safe }}|{{ True }}|{{ None }}|{{ when }}"
    "|{{ day }}|{{ big }}",
    "escaping": "{{ s }} {% autoescape off %}{{ s }} {% autoescape on %}{{ s }}{% endautoescape %}"
    "{% endautoescape %} {{ safe }}",
    "if": "{% if yes %}Y{% endif %}{% if missing %}M{% else %}not M{% endif %}"
    "{% if none %}N{% elif empty %}E{% elif l %}L{{ l.0 }}{% else %}X{% endif %}"
    "{% if d.k %}K{% endif %}{% if obj.method %}method{% endif %}",
    "for": "{% for x in l %}{{ forloop.counter }}/{{ forloop.counter0 }}/{{ forloop.revcounter }}"
    "/{{ forloop.revcounter0 }}/{{ forloop.first }}/{{ forloop.last }}:{{ x }} {% endfor %}"
    "{% for x in l reversed %}{{ x }}{% endfor %}"
    "{% for x in empty %}never{% empty %}was empty{% endfor %}"
    "{% for x in missing %}never{% empty %}missing is empty{% endfor %}"
    "{% for x in gen %}{{ x }}{% endfor %}"
    "{% for k, v in pairs %}{{ k }}={{ v }};{% endfor %}"
    "{% for row in rows %}{% for c in row %}{{ forloop.parentloop.counter }}.{{ forloop.counter }}"
    "{{ c }} {% endfor %}{% endfor %}{{ x }}{{ forloop.counter }}",
    "shadowing": "{% for s in l %}{{ s }}{% endfor %}{{ s }}{% for forloop in l %}{{ forloop }}{% endfor %}",
}
UNSUPPORTED = {
    "filter": "{{ s|upper }}",
    "operator": "{% if yes and n %}both{% endif %}",
    "with": "{% with a=s %}{{ a }}{% endwith %}",
    "include": '{% include "parent.html" %}',
    "super": '{% extends "parent.html" %}{% block title %}{{ block.super }}!{% endblock %}',
    "literal sequence": '{% for x in "ab" %}{{ x }}{% endfor %}',
}


class Thing:
    attr = "an <attribute>"

    def method(self) -> str:
        return "called & returned"

    def needs_args(self, x: int) -> str:
        return "never"

    def dangerous(self) -> str:
        raise AssertionError("a template must not call this")

    dangerous.alters_data = True  # type: ignore[attr-defined]

    def keep(self) -> str:
        return "never called"

    keep.do_not_call_in_templates = True  # type: ignore[attr-defined]


THING = Thing()  # one object: {{ obj.keep }} shows its repr, address included


def context() -> dict[str, Any]:
    return {
        "s": 'Tom & Jerry\'s <script>"x"</script>',
        "n": 12345,
        "f": 1234.5,
        "dec": Decimal("1234.5000"),
        "yes": True,
        "none": None,
        "empty": [],
        "d": {"k": "value", "items": "an items key"},
        "l": ["zero", "one", "two"],
        "obj": THING,
        "safe": mark_safe("<b>safe</b>"),
        "when": dt.datetime(2027, 3, 4, 10, 30, tzinfo=dt.UTC),
        "day": dt.date(2027, 3, 4),
        "big": 10**12,
        "gen": (i * i for i in range(3)),
        "pairs": [("a", 1), ("b", 2)],
        "rows": [["x", "y"], ["z"]],
        "who": "O'Brien & <Sons>",
        "markup": "<i>it</i>",
    }


@pytest.fixture
def engine() -> Engine:
    sources = {"parent.html": PARENT, "middle.html": MIDDLE, "child.html": CHILD}
    sources.update({f"{name}.html": src for name, src in {**SUPPORTED, **UNSUPPORTED}.items()})
    return Engine(
        loaders=[("django.template.loaders.locmem.Loader", sources)],
        libraries={"static": "django.templatetags.static"},
    )


def both(engine: Engine, name: str, language: str = "en") -> tuple[str, str, bool]:
    template = engine.get_template(name)
    with translation.override(language):
        expected = template.render(Context(context(), autoescape=engine.autoescape))
        render = compile_template(template)
        got = render(context()) if render is not None else expected
    return expected, got, render is not None


@pytest.mark.parametrize("name", [*SUPPORTED, "child", "middle", "parent"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_a_supported_template_compiles_and_renders_exactly_as_django_does(
    engine: Engine, name: str, language: str
) -> None:
    expected, got, was_compiled = both(engine, f"{name}.html", language)
    assert was_compiled
    assert got == expected


def test_the_probes_really_exercise_what_they_claim(engine: Engine) -> None:
    """Guard against a probe that renders nothing interesting (then equality would prove little)."""
    out = {name: both(engine, f"{name}.html")[0] for name in [*SUPPORTED, "child"]}
    assert "Tom &amp; Jerry&#x27;s &lt;script&gt;" in out["escaping"]
    assert "Tom & Jerry's <script>" in out["escaping"]
    assert "<b>safe</b>" in out["escaping"]
    assert "|None||value||one||an &lt;attribute&gt;|called &amp; returned|||" in out["variables"]
    assert "1/0/3/2/True/False:zero" in out["for"] and "twoonezero" in out["for"]
    assert "was empty" in out["for"] and "missing is empty" in out["for"] and "014" in out["for"]
    assert "a=1;b=2;" in out["for"] and "1.1x 1.2y 2.1z" in out["for"]
    assert out["if"] == "Ynot MLzeroKmethod"
    assert "Middle O&#x27;Brien" in out["child"] and "child inner" in out["child"]
    assert "[child raw <i>it</i> & O'Brien & <Sons>]" in out["child"]
    assert "ignored text" not in out["child"] and "not shown" not in out["child"]


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_a_template_with_anything_else_is_left_to_django(engine: Engine, name: str) -> None:
    assert compile_template(engine.get_template(f"{name}.html")) is None


def test_a_template_left_to_django_still_renders_through_render_template() -> None:
    backend = engines["django"]
    rendered = render_template(
        "decisions/notices/credit/decision.en.subject.txt", {"d": {"reference": "R&1"}}
    )
    assert rendered == backend.get_template("decisions/notices/credit/decision.en.subject.txt").render(
        {"d": {"reference": "R&1"}}
    )
    assert "R&amp;1" in rendered  # subjects are autoescaped, as Django does


@pytest.mark.parametrize("key", sorted(notices.TEMPLATES))
@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("part", ["subject.txt", "txt", "html"])
def test_every_notice_template_compiles_and_matches_django(key: str, language: str, part: str) -> None:
    name = notices.TEMPLATES[key].file(language, part)
    elements, info = notices.specimen_elements(key, language)
    ctx = notices._context(elements, language, info)
    backend_template = engines["django"].get_template(name)
    assert compile_template(backend_template.template) is not None  # type: ignore[attr-defined]
    assert template_renderer(name)(ctx) == backend_template.render(ctx)
    # A sparse context too: missing optional parts take the other branches.
    sparse = {
        "e": {"reasons": [], "data_sources": None, "routes": [{"kind_label": "Court", "name": "X"}]},
        "d": {},
    }
    assert template_renderer(name)(sparse) == backend_template.render(sparse)
