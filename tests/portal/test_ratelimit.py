"""The way in resists guessing: wrong codes are counted per reference and per address, five wrong codes
lock the reference for 15 minutes (the right code too), an unknown reference gets exactly the same
answers, and neither the reference, the code nor the address ends up in the cache keys or the log."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from core import clock
from portal.session import SESSION_KEY
from tests.portal.conftest import Case, errors_of, page

pytestmark = pytest.mark.django_db

START = "/portal/"
LOCKED = (
    "You typed a wrong code too many times. For your safety, you cannot try again for 15 minutes. "
    "You can still use the link in the letter or email we sent you."
)
NO_MATCH = "We could not find a decision with that reference and code. Check both and try again."


def _wrong(code: str) -> str:
    return "0000000" + ("1" if code[-1] != "1" else "2")


def _try(client: Client, reference: str, code: str, address: str = "203.0.113.7") -> Any:
    return client.post(START, {"reference": reference, "code": code}, REMOTE_ADDR=address)


def _without_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def test_five_wrong_codes_lock_the_reference_and_then_even_the_right_code_is_refused(
    client: Client, case: Case
) -> None:
    ref = case.decision.public_reference
    for _ in range(4):
        response = _try(client, ref, _wrong(case.code))
        assert response.status_code == 400 and errors_of(response) == [NO_MATCH]
    fifth = _try(client, ref, _wrong(case.code))
    assert fifth.status_code == 429 and errors_of(fifth) == [LOCKED]
    right = _try(client, ref, case.code)
    assert right.status_code == 429 and errors_of(right) == [LOCKED]
    assert SESSION_KEY not in client.session
    # Another person's reference is not locked.
    other = Client()
    assert _try(other, "CRD-0000-0000", "AAAAAAAA", address="198.51.100.1").status_code == 400


def test_an_unknown_reference_is_locked_the_same_way_with_the_same_pages(client: Client, case: Case) -> None:
    real = case.decision.public_reference
    unknown = real[:-1] + ("Z" if real[-1] != "Z" else "Y")
    real_pages, unknown_pages = [], []
    for _ in range(5):
        real_pages.append(_try(Client(), real, _wrong(case.code), address="192.0.2.1"))
        unknown_pages.append(_try(Client(), unknown, _wrong(case.code), address="192.0.2.2"))
    for a, b in zip(real_pages, unknown_pages, strict=True):
        assert a.status_code == b.status_code
        assert _without_csrf(page(a)).replace(real, "REF") == _without_csrf(page(b)).replace(unknown, "REF")
    assert real_pages[-1].status_code == 429


def test_the_lock_ends_after_15_minutes_and_the_count_starts_again(
    client: Client, case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = case.decision.public_reference
    for _ in range(5):
        _try(client, ref, _wrong(case.code))
    assert _try(client, ref, case.code).status_code == 429
    later = clock.now() + dt.timedelta(minutes=16)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert _try(client, ref, _wrong(case.code)).status_code == 400  # a fresh count: one wrong is not a lock
    response = _try(client, ref, case.code)
    assert response.status_code == 302 and response["Location"] == "/portal/decision/"


def test_the_right_code_clears_the_count_of_its_reference(client: Client, case: Case) -> None:
    ref = case.decision.public_reference
    for _ in range(4):
        _try(client, ref, _wrong(case.code))
    assert _try(client, ref, case.code).status_code == 302
    for _ in range(4):
        assert _try(Client(), ref, _wrong(case.code)).status_code == 400


def test_many_references_tried_from_one_address_lock_that_address(client: Client, case: Case) -> None:
    for i in range(19):
        assert _try(Client(), f"CRD-{i:04d}-0000", "AAAAAAAA", address="203.0.113.9").status_code == 400
    assert _try(Client(), "CRD-9999-0000", "AAAAAAAA", address="203.0.113.9").status_code == 429
    # From there, even a real reference with its right code waits; another address does not.
    assert _try(client, case.decision.public_reference, case.code, address="203.0.113.9").status_code == 429
    assert _try(client, case.decision.public_reference, case.code, address="198.51.100.3").status_code == 302


def test_empty_fields_are_not_counted_as_wrong_codes(client: Client, case: Case) -> None:
    for _ in range(10):
        assert _try(client, case.decision.public_reference, "").status_code == 400
    assert _try(client, case.decision.public_reference, case.code).status_code == 302


def test_no_reference_code_or_address_is_kept_in_the_cache_or_written_to_the_log(
    client: Client, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    ref = case.decision.public_reference
    with caplog.at_level(logging.DEBUG):
        for _ in range(5):
            _try(client, ref, _wrong(case.code), address="203.0.113.77")
    keys = " ".join(str(k) for k in cache._cache)  # type: ignore[attr-defined]
    assert "portal:lock:reference:" in keys
    for secret in (ref, _wrong(case.code), "203.0.113.77", case.code):
        assert secret not in keys
        assert secret not in caplog.text
    assert "portal way in locked" in caplog.text
