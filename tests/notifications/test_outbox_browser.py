"""In a real browser (Debian's Chromium): the outbox shows a notice's HTML as the person saw it, while its
scripts stay dead and its remote images (tracking pixels) are never fetched."""

from __future__ import annotations

import os

import pytest
from django.test import Client

from core.models import User
from notifications.services import notice_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

PAGE = "http://127.0.0.1:9/staff/outbox/notice/"
EVIL_HTML = (
    "<html><body><h1 id='greeting'>Hello Ana &amp; family, \"quoted\"</h1>"
    "<img src='https://tracker.example/pixel.gif' alt=''>"
    "<script>document.getElementById('greeting').textContent = 'SCRIPT RAN';"
    "try { parent.document.title = 'PWNED'; } catch (e) {}</script>"
    "</body></html>"
)


def test_the_notice_html_renders_sandboxed_with_no_script_and_no_remote_fetch(spec, actor):
    from playwright.sync_api import Route, sync_playwright

    notice = notice_create(spec=spec(channel="portal", body_html=EVIL_HTML), actor=actor)
    client = Client()
    client.force_login(User.objects.create(username="rui", is_staff=True))
    response = client.get(f"/staff/outbox/{notice.pk}/")
    page_html, csp = response.content.decode(), response["Content-Security-Policy"]

    requested: list[str] = []

    def serve(route: Route) -> None:
        requested.append(route.request.url)
        if route.request.url == PAGE:
            headers = {"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": csp}
            route.fulfill(status=200, body=page_html, headers=headers)
        else:
            route.fulfill(status=404, body="")

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop in this thread; no ORM use below
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            try:
                page = browser.new_page()
                page.route("**/*", serve)
                page.goto(PAGE)
                page.wait_for_timeout(300)
                frame = next(f for f in page.frames if f != page.main_frame)
                greeting = frame.inner_text("#greeting")
                title = page.title()
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous

    assert greeting == 'Hello Ana & family, "quoted"'  # rendered exactly, entities and quotes intact
    assert "PWNED" not in title
    assert not [url for url in requested if "tracker.example" in url]
