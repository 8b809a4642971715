"""The auditor role (S33, S28): reads everything with people pseudonymised, changes nothing.

An auditor here is set up as the demo sets one up: a staff account (so the admin and the API's session
authentication would let them in) in the group "auditor". Every unsafe request they make, to any page, API
endpoint or admin screen that exists, is refused with 403 and writes nothing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver

from core import audit
from core.models import AuditChainHead, AuditEvent
from decisions.models import SubjectContact
from tests.factories import UserFactory, live_system
from tests.oversight import builders as b
from tests.oversight.november import t

pytestmark = pytest.mark.django_db

ALLOWED = {"accounts/login/", "accounts/logout/"}  # signing in and out are not changes to anything


@pytest.fixture
def auditor() -> Any:
    user = UserFactory.create(username="aud", is_staff=True, first_name="Aud", last_name="Itor")
    user.groups.add(Group.objects.get_or_create(name="auditor")[0])
    return user


class World:
    def __init__(self) -> None:
        self.system, self.version = live_system()
        self.subject = b.subject(self.system)
        SubjectContact.objects.create(
            subject=self.subject, name="Quincy Zephyrine", email="quincy@mail.example"
        )
        self.decision = b.decision(self.version, t(11, 2), subject_=self.subject)
        self.notice = b.notice(self.decision)
        self.appeal = b.appeal(self.decision, t(11, 3), due_date=date(2026, 12, 3))
        audit.record(actor=audit.as_actor(UserFactory.create()), action="test.event", target=self.decision)
        audit.seal()


@pytest.fixture
def world() -> World:
    return World()


# ------------------------------------------------------------------------------------------ every route


def _routes(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for p in resolver.url_patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            if route == "admin/":
                continue  # the admin is walked model by model below
            yield from _routes(p, route)
        else:
            yield route, p


def _sample(name: str, converter: str, w: World) -> str:
    if converter == "uuid":
        if "notice" in name:
            return str(w.notice.pk)
        if "appeal" in name:
            return str(w.appeal.pk)
        return str(w.decision.pk)
    if converter == "int":
        return "1"
    if converter == "slug":
        return w.system.slug if name in ("slug", "system") else "x"
    if name == "version":
        return w.version.version
    return "x"


def concrete_urls(w: World) -> list[str]:
    urls = []
    for route, _p in _routes(get_resolver()):
        if route in ALLOWED or route.startswith("^"):
            continue
        path = re.sub(
            r"<(?:(\w+):)?(\w+)>", lambda m: _sample(str(m.group(2)), str(m.group(1) or "str"), w), route
        )
        urls.append("/" + path)
    return urls


def admin_urls() -> list[tuple[str, dict[str, str]]]:
    out: list[tuple[str, dict[str, str]]] = []
    for model in admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        obj = model._default_manager.order_by("pk").first()
        out.append((base + "add/", {}))
        out.append((base, {"action": "delete_selected", "_selected_action": str(obj.pk) if obj else "1"}))
        if obj is not None:
            out.append((f"{base}{obj.pk}/change/", {}))
            out.append((f"{base}{obj.pk}/delete/", {"post": "yes"}))
    return out


def snapshot() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in apps.get_models() if m._meta.managed}


def test_every_unsafe_request_of_an_auditor_is_refused_and_writes_nothing(
    client: Any, auditor: Any, world: World
) -> None:
    client.force_login(auditor)
    head = list(AuditChainHead.objects.values_list("last_seq", "last_hash"))
    before = snapshot()
    tried: list[str] = []
    not_refused: list[str] = []
    for url in concrete_urls(world):
        for method in ("post", "put", "patch", "delete"):
            response = getattr(client, method)(url, data={}, content_type="application/json")
            tried.append(f"{method.upper()} {url}")
            if response.status_code != 403:
                not_refused.append(f"{method.upper()} {url} -> {response.status_code}")
    for url, data in admin_urls():
        response = client.post(url, data)
        tried.append(f"POST {url}")
        if response.status_code != 403:
            not_refused.append(f"POST {url} -> {response.status_code}")
    assert len(tried) > 100  # pages, API and every admin screen
    assert not_refused == []
    assert snapshot() == before
    assert list(AuditChainHead.objects.values_list("last_seq", "last_hash")) == head


def test_an_api_request_refused_to_an_auditor_answers_problem_details(
    client: Any, auditor: Any, world: World
) -> None:
    client.force_login(auditor)
    response = client.post("/api/v1/decisions/", data={}, content_type="application/json")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "auditor-read-only"


def test_an_auditor_may_still_sign_out(client: Any, auditor: Any) -> None:
    client.force_login(auditor)
    assert client.post("/accounts/logout/").status_code in (200, 302)
    assert client.get("/oversight/").status_code == 302  # signed out: back to sign in


def test_a_superuser_in_the_auditor_group_is_not_held_back(client: Any) -> None:
    boss = UserFactory.create(username="boss", is_staff=True, is_superuser=True)
    boss.groups.add(Group.objects.get_or_create(name="auditor")[0])
    client.force_login(boss)
    # The request reaches the view (which then answers on its own terms: here, the body is invalid).
    assert client.post("/api/v1/decisions/", data={}, content_type="application/json").status_code != 403


# ------------------------------------------------------------------------------------------ what they read


def test_an_auditor_reads_every_oversight_page(client: Any, auditor: Any, world: World) -> None:
    client.force_login(auditor)
    for url in (
        "/oversight/",
        f"/oversight/systems/{world.system.slug}/",
        "/oversight/transparency/",
        "/oversight/audit/",
        "/oversight/audit/verify/",
        "/oversight/decisions/",
        "/oversight/appeals/",
    ):
        assert client.get(url).status_code == 200, url


def test_decision_and_appeal_lists_show_pseudonyms_never_names_emails_or_references(
    client: Any, auditor: Any, world: World
) -> None:
    client.force_login(auditor)
    for url in ("/oversight/decisions/", "/oversight/appeals/", "/oversight/audit/"):
        html = client.get(url).content.decode()
        assert world.subject.pseudonym in html or url == "/oversight/audit/"
        for personal in ("Quincy", "Zephyrine", "quincy@mail.example", world.subject.external_ref):
            assert personal not in html, (url, personal)


def test_the_audit_log_is_paginated_newest_first_and_filtered_by_action_and_target(
    client: Any, auditor: Any, world: World
) -> None:
    actor = audit.as_actor(auditor)
    for i in range(60):
        audit.record(actor=actor, action="page.test", target_type="x.thing", target_id=str(i))
    audit.seal()
    client.force_login(auditor)
    first = client.get("/oversight/audit/", {"action": "page"})
    html = first.content.decode()
    assert html.count('<td class="mono">page.test</td>') == 50
    newest = AuditEvent.objects.order_by("-id").first()
    assert newest is not None and newest.hash[:12] in html and f">{newest.seq}<" in html
    before = re.search(r'before=(\d+)" rel="next"', html)
    assert before is not None
    second = client.get("/oversight/audit/", {"action": "page", "before": before.group(1)}).content.decode()
    assert second.count('<td class="mono">page.test</td>') == 10
    one = client.get("/oversight/audit/", {"target_type": "x.thing", "target_id": "7"}).content.decode()
    assert one.count('<td class="mono">page.test</td>') == 1
    assert client.get("/oversight/audit/", {"before": "not-a-number"}).status_code == 200


def _tamper(event: AuditEvent) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
        cursor.execute("UPDATE core_auditevent SET action = %s WHERE id = %s", ["test.altered", event.pk])
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")


def test_the_verify_button_checks_the_chain_names_the_first_broken_link_and_writes_nothing(
    client: Any, auditor: Any, world: World
) -> None:
    client.force_login(auditor)
    before = snapshot()
    ok = client.get("/oversight/audit/verify/").content.decode()
    assert "The chain is intact" in ok
    assert snapshot() == before
    event = AuditEvent.objects.get(action="test.event")
    _tamper(event)
    broken = client.get("/oversight/audit/verify/").content.decode()
    assert "The chain is broken" in broken
    assert f"seq {event.seq} (id {event.pk}, action test.altered): altered" in broken


def test_an_unknown_uuid_in_a_list_cursor_is_ignored(client: Any, auditor: Any, world: World) -> None:
    client.force_login(auditor)
    assert client.get("/oversight/decisions/", {"before": "zzz"}).status_code == 200
    assert client.get("/oversight/appeals/", {"before": str(uuid.uuid4())}).status_code == 200
