"""Helpers for the browser tests: accessibility checks with the vendored axe-core, screenshots, and the
record of every request a page tried to make off this machine.

Import what a test needs::

    from tests.browser.support import PHONE, axe_check, screenshot
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, ViewportSize

VENDOR = Path(__file__).resolve().parent / "vendor"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

#: An ordinary-looking host name (RFC 6761 reserves .test) that Chromium resolves to 127.0.0.1 (see
#: CHROMIUM_ARGS): some libraries skip their calls home on "localhost" or "127.0.0.1" only, so a page can
#: also be checked as a visitor on a real domain would load it.
TEST_HOST = "contestable.test"
#: Hosts a page may talk to: the live server only (loopback). Anything else is recorded and refused.
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1", TEST_HOST}

#: Debian's Chromium and the flags this machine kind needs; any test that starts Chromium itself uses these.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # the network is closed: Chromium's own calls home would be refused
    "--disable-component-update",
    "--disable-sync",
    f"--host-resolver-rules=MAP {TEST_HOST} 127.0.0.1",  # this name only; the page fixture refuses others
]

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
#: A small phone (iPhone SE size), the narrowest window the portal is designed for.
PHONE: ViewportSize = {"width": 375, "height": 667}

#: The WCAG 2.2 AA rule set: every A and AA rule of WCAG 2.0, 2.1 and 2.2 that axe-core knows.
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

#: Schemes that never leave the browser.
LOCAL_SCHEMES = {"data", "blob", "about", "chrome-error"}


@dataclass
class PageRecord:
    """What the ``page`` fixture saw while a test ran."""

    external_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)


def is_external(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return False
    return (parts.hostname or "") not in LOCAL_HOSTS


def record_of(page: Page) -> PageRecord:
    record = getattr(page, "_contestable_record", None)
    if not isinstance(record, PageRecord):
        raise TypeError("this page was not made by the browser tests' `page` fixture")
    return record


def assert_no_external_requests(page: Page) -> None:
    """Fail naming every request the page tried to send to a host other than this machine's loopback.
    (The ``page`` fixture refuses such requests, so none leaves the machine; this makes the attempt fail.)"""
    external = record_of(page).external_requests
    assert not external, (
        "The page tried to reach other hosts (all assets must be served by the project):\n"
        + ("\n".join(f"  - {url}" for url in external))
    )


def assert_stylesheets_loaded(page: Page) -> int:
    """Every ``<link rel=stylesheet>`` on the page loaded and has rules; answers how many there are."""
    page.wait_for_load_state("load")  # judge the page once it has loaded, not while a sheet is in flight
    sheets: list[dict[str, Any]] = page.evaluate(
        """() => [...document.querySelectorAll('link[rel~="stylesheet"]')].map((link) => {
            let rules = -1;
            try { rules = link.sheet ? link.sheet.cssRules.length : -1; } catch (e) { rules = -2; }
            return {href: link.href, rules};
        })"""
    )
    broken = [s["href"] for s in sheets if s["rules"] <= 0]
    assert not broken, f"stylesheets that did not load (or are empty): {broken}"
    return len(sheets)


@cache
def _axe_source() -> str:
    return (VENDOR / "axe.min.js").read_text(encoding="utf-8")


def axe_results(page: Page, *, tags: list[str] | None = None, exclude: list[str] | None = None) -> Any:
    """Run axe-core on the page as it is now and answer its raw result (violations only).

    axe is injected through the DevTools protocol (``page.evaluate``), which a Content-Security-Policy does
    not block, so the page is checked with its real CSP in force.
    """
    if page.evaluate("() => typeof window.axe") != "object":
        loaded = page.evaluate(_axe_source() + "\n;typeof window.axe")
        assert loaded == "object", f"axe-core did not load into the page (typeof axe: {loaded})"
    context: Any = {"exclude": [[s] for s in exclude]} if exclude else "document"
    options = {
        "runOnly": {"type": "tag", "values": tags or WCAG_22_AA},
        "resultTypes": ["violations"],
    }
    return page.evaluate(
        "async ([context, options]) => await window.axe.run("
        "context === 'document' ? document : context, options)",
        [context, options],
    )


def format_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v.get('impact') or 'no impact given'}): {v['help']}")
        lines.append(f"  {v['helpUrl']}")
        for node in v["nodes"][:10]:
            target = " ".join(str(t) for t in node["target"])
            summary = (node.get("failureSummary") or "").replace("\n", " ").strip()
            lines.append(f"    at {target}: {summary[:300]}")
        if len(v["nodes"]) > 10:
            lines.append(f"    ... and {len(v['nodes']) - 10} more elements")
    return "\n".join(lines)


def axe_check(page: Page, *, exclude: list[str] | None = None) -> None:
    """Fail with a readable list when axe-core finds any WCAG 2.2 AA violation on the page as it is now."""
    violations = axe_results(page, exclude=exclude)["violations"]
    assert not violations, f"{len(violations)} WCAG 2.2 AA violation(s) on {page.url}:\n" + format_violations(
        violations
    )


_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path | None:
    """Save ``docs/screenshots/<name>.png`` when SAVE_SCREENSHOTS=1; otherwise do nothing (answer None).

    Names are lower-case words with dashes (``portal-start-phone``) so the README can link them stably.
    """
    if os.environ.get("SAVE_SCREENSHOTS") != "1":
        return None
    if not _NAME.match(name):
        raise ValueError(f"screenshot names are lower-case words with dashes, not {name!r}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
    return path


def focused_element(page: Page) -> dict[str, Any]:
    """The element that has keyboard focus: its tag, id, classes, role and text (first 80 characters)."""
    result: dict[str, Any] = page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el || el === document.body) return {tag: el ? 'body' : null};
            return {tag: el.tagName.toLowerCase(), id: el.id, classes: [...el.classList],
                    role: el.getAttribute('role'), text: (el.innerText || '').trim().slice(0, 80)};
        }"""
    )
    return result
