"""The browser-test harness checks what it claims: axe-core finds real violations (so a clean result means
something), it runs under the portal's strict Content-Security-Policy, and screenshots are only written
when asked for."""

from typing import Any

import pytest
from playwright.sync_api import Page
from pytest_django.live_server_helper import LiveServer

from tests.browser import support
from tests.browser.support import axe_check, axe_results, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BAD_PAGE = """<!DOCTYPE html><html><head><title>Bad</title></head><body><main>
<h1>Apply</h1><img src="/static/portal/css/portal.css"><input id="name" type="text">
</main></body></html>"""

STRICT_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'"


def test_axe_check_fails_with_a_readable_list_of_violations(page: Page, live_server: LiveServer) -> None:
    served = f"{live_server.url}/harness/bad"
    page.route(
        served,
        lambda route: route.fulfill(
            status=200,
            body=BAD_PAGE,
            headers={"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": STRICT_CSP},
        ),
    )
    page.goto(served)

    with pytest.raises(AssertionError) as failure:
        axe_check(page)

    message = str(failure.value)
    # Missing document language, an image without a text alternative, an unlabelled field:
    for rule in ("html-has-lang", "image-alt", "label"):
        assert f"- {rule} (" in message, message
    assert "at img" in message and "at #name" in message  # each node's target is named
    assert "https://dequeuniversity.com/rules/axe/" in message  # and where to read about the rule


def test_axe_runs_only_the_wcag_2_2_aa_rules(page: Page) -> None:
    page.set_content(
        '<html lang="en"><head><title>Hi</title></head>'
        "<body><main><h1>Hi</h1><h3>Skipped a level</h3></main></body></html>"
    )

    # heading-order is a best-practice rule, not a WCAG success criterion: not reported...
    assert axe_results(page)["violations"] == []
    # ...unless asked for by tag.
    ids = [v["id"] for v in axe_results(page, tags=["best-practice"])["violations"]]
    assert "heading-order" in ids


def test_screenshots_are_written_only_when_asked_for(
    page: Page, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(support, "SCREENSHOTS", tmp_path)
    page.set_content('<html lang="en"><head><title>Hello</title></head><body><h1>Hello</h1></body></html>')

    monkeypatch.delenv("SAVE_SCREENSHOTS", raising=False)
    assert screenshot(page, "hello") is None
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setenv("SAVE_SCREENSHOTS", "1")
    path = screenshot(page, "hello")
    assert path == tmp_path / "hello.png"
    assert path.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="lower-case"):
        screenshot(page, "Not A Name")
