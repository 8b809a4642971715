"""Notices are byte-for-byte what they were: fixed decisions render to recorded digests.

The digests below were recorded from the notice code as it stood before the batch path was made fast
(compiled templates, in-memory composition, COPY). A change to what a notice says must come with a
template version bump (test_notices.py checks each template's fingerprint); a faster way of producing the
same notice must leave these digests alone. If one of them fails without a template change, the new code
renders something different from what people were sent before: fix the code, not the digest.

Two paths are pinned: rendering a stored record (``decision_notice_render``, as staff and the portal do) and
the notices the batch path stores while recording (``decision_record_many``), both with the parts that vary
by design (the signed link's timestamp, the random secret code and reference) held fixed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

import pytest

from core.actors import SYSTEM
from decisions import access, demo
from decisions import services as svc
from decisions.models import Decision
from decisions.notices import (
    TEMPLATES,
    RenderedNotice,
    WayIn,
    decision_notice_render,
    render_notice,
    specimen_elements,
)
from decisions.scorecards import Scorecard
from notifications.models import Notice
from tests.decisions.builders import make_decision, make_system

pytestmark = pytest.mark.django_db

LINK = "https://contestable.example/portal/open/FIXED-TOKEN"
PORTAL = "https://contestable.example/portal/"
CODE = "4F7KQ2MX"


def digest(subject: str, text: str, html: str) -> str:
    return hashlib.sha256("\0".join((subject, text, html)).encode()).hexdigest()[:24]


def rendered_digest(r: RenderedNotice) -> str:
    return digest(r.subject, r.body_text, r.body_html)


# --------------------------------------------------------------------------------- specimen layouts

SPECIMENS = {
    ("content_moderation/decision", "en"): "3bc99a42492426623dc71240",
    ("content_moderation/decision", "es"): "61fb3118a4fae677fa45e4c3",
    ("credit/decision", "en"): "a9c38b3350f5ef741aff8f71",
    ("credit/decision", "es"): "55aac46007bfd70ed986af64",
    ("generic/decision", "en"): "61781b1c3a561b92ef8d4930",
    ("generic/decision", "es"): "dd46f6b57b3b167847786f53",
    ("generic/favourable", "en"): "b1ee55269950fa2cba5eaccf",
    ("generic/favourable", "es"): "8e642bc342b69fa56711cf25",
    ("public_benefits/decision", "en"): "0ad614b03f6ef5bc59dceddf",
    ("public_benefits/decision", "es"): "9b055d09e57b7413b17f44d3",
}


@pytest.mark.parametrize(
    ("key", "lang"), sorted(SPECIMENS), ids=[f"{k}:{lang}" for k, lang in sorted(SPECIMENS)]
)
def test_each_template_renders_its_specimen_exactly_as_before(key: str, lang: str) -> None:
    elements, info = specimen_elements(key, lang)
    assert TEMPLATES[key].version == 1
    assert rendered_digest(render_notice(key, lang, elements, info)) == SPECIMENS[(key, lang)]


# --------------------------------------------------------------------------------- stored records

# (domain, adverse, language, score, system overrides) -> digest
RECORDS: dict[tuple[str, bool, str, str | None, str], str] = {
    ("credit", True, "en", "540.00", ""): "77b0c96b43a306aeba713d0f",
    ("credit", True, "es", "540.00", ""): "a749fab1fdc26ddd1f06c415",
    ("credit", True, "en", None, ""): "ce5fe1df6c99ee5dfdeac83b",
    ("credit", False, "en", "700", ""): "e362b76bd7f1fd89fbba021c",
    ("credit", False, "es", "700", ""): "77ce0f1db2d3b98a2af671bb",
    ("public_benefits", True, "en", None, ""): "3a3858db94aa5c68f64fe5ab",
    ("public_benefits", True, "es", None, "no-stay"): "efb46bd3ef75e6fbfd91252b",
    ("content_moderation", True, "en", None, ""): "00d43ea3edd64ef979bfd70b",
    ("content_moderation", True, "es", None, ""): "fdc94de4f70f119e2033dd74",
    ("employment", True, "en", None, "escape"): "b5f4894f7b027acda4daa3c4",
}

_OVERRIDES: dict[str, dict[str, Any]] = {
    "": {},
    "no-stay": {"stay_on_appeal": False, "oral_hearing_allowed": True},
    "escape": {
        "legal_basis": "Contract <b>7</b> & \"terms\" 'here'",
        "owner_organisation": "Jobs & Co <Ltd>",
    },
}


@pytest.mark.parametrize("case", sorted(RECORDS, key=str), ids=lambda c: "-".join(map(str, c)))
def test_a_stored_record_renders_exactly_as_before(case: tuple[str, bool, str, str | None, str]) -> None:
    domain, adverse, lang, score, overrides = case
    system = make_system(domain, **_OVERRIDES[overrides])
    decision, _code = make_decision(
        system, adverse=adverse, language=lang, score=Decimal(score) if score is not None else None
    )
    Decision.objects.filter(pk=decision.pk).update(public_reference="DEC-7K3M-Q9XP")
    decision = Decision.objects.get(pk=decision.pk)
    rendered = decision_notice_render(decision, lang, WayIn(LINK, PORTAL, decision.public_reference, CODE))
    assert rendered_digest(rendered) == RECORDS[case]


# --------------------------------------------------------------------------------- the batch path

# demo system slug -> digests of the notices stored for cases 1..6 (email notices, in case order)
BATCH: dict[str, list[str]] = {
    "credit-limit": [
        "3e520dc106da08ed9a07dd73",
        "7fa7b9ff6173c93ce4f3512b",
        "a0a27e53645fbcab8e8bc0a9",
        "fff4dcccdc1cffcd2bcb3926",
        "d3985f497d251a535b36e2a6",
        "cd36a91eaa6ffc367f79648e",
    ],
    "benefit-eligibility": [
        "b19f07908e30443a5c2ea862",
        "973dfeaf1a1f046ec7d15ae2",
        "cf4938b855d35a394949c599",
        "3b5b44d4dd36829e84de4987",
        "no notice (awaiting a human)",
        "f177243602aae36a168b77b1",
    ],
    "content-moderation": [
        "9a563f7564901979d10cac6a",
        "744c198ff73cc0c2afab7f5b",
        "43c99c45fc010aa8d78053cc",
        "04c5dd4e9341e9a872a4a173",
        "bb45813a2f86f783f95f2d3f",
        "1cc28c3aecf0b5c649654a53",
    ],
}
NOW = dt.datetime(2026, 5, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def fixed_way_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """The link's timestamp, the secret code and the references are random by design: hold them still."""
    references = iter(f"REF-{i:04d}-TEST" for i in range(1, 10_000))
    monkeypatch.setattr(
        access, "decision_link_url", lambda decision_id, *, valid_days: f"{LINK}-{valid_days}"
    )
    monkeypatch.setattr(access, "new_access_code", lambda: CODE)
    monkeypatch.setattr(svc, "public_reference", lambda prefix: f"{prefix}-{next(references)}")


@pytest.mark.parametrize("slug", sorted(BATCH))
def test_the_batch_path_stores_notices_exactly_as_before(slug: str, fixed_way_in: None) -> None:
    spec = next(s for s in demo.SYSTEMS if s.slug == slug)
    _system, version = demo.ensure_system(spec, demo.SeedReport())
    card = Scorecard(version.scorecard or spec.scorecard)
    items = [demo.decision_item(spec, version, demo.demo_case(spec, card, i), NOW) for i in range(1, 7)]
    results = svc.decision_record_many(items=items, actor=SYSTEM)
    assert all(r.ok for r in results), [r.error for r in results]
    digests = []
    for r in results:
        assert r.decision is not None
        notices = Notice.objects.filter(topic_id=str(r.decision.pk), kind="decision").order_by("channel")
        by_channel = {n.channel: n for n in notices}
        if not by_channel:
            digests.append("no notice (awaiting a human)")
            continue
        email, portal = by_channel["email"], by_channel["portal"]
        assert (email.subject, email.body_text, email.body_html) == (
            portal.subject,
            portal.body_text,
            portal.body_html,
        )
        digests.append(digest(email.subject, email.body_text, email.body_html))
    assert digests == BATCH[slug]


# --------------------------------------------------------------------------------- the payload hash


def test_the_canonical_hash_of_a_payload_is_what_it_was() -> None:
    """Idempotency compares this hash with the one stored when the decision was first recorded: a faster
    canonical form must hash every payload exactly as before (digest recorded from the earlier code)."""
    item = {
        "system": "credit-limit",
        "score": Decimal("512.5000"),
        "n": 3,
        "f": 0.52,
        "flag": True,
        "none": None,
        "decided_at": dt.datetime(2027, 3, 4, 11, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        "as_of": dt.date(2027, 3, 1),
        "inputs": [{"feature": "x", "value": [1, "two", {"k": Decimal("1E+2")}]}],
        "tuple": ("a", 1),
        7: "int key",
        "ñ": "é",
    }
    assert svc.canonical_hash(item) == "7bb47c14aaeaf13d34a94cf3cbb8b721f8aaab6baeabf6f310de04befcb6f34d"
