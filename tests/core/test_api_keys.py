"""API keys: shown once, stored hashed, scoped to decision systems, revocable, and audited."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import apikeys
from core.errors import Conflict
from core.models import ApiClient, ApiKey, AuditEvent, User
from tests.core.api_helpers import ADMIN, bearer, make_system, new_client

pytestmark = pytest.mark.django_db

KEY_SHAPE = re.compile(r"^ctb_[a-z0-9]{10}_[A-Za-z0-9]{40}$")


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def everything_stored() -> str:
    """Every value of every API key, client and audit row, as text."""
    rows: list[Any] = [*ApiKey.objects.values(), *ApiClient.objects.values(), *AuditEvent.objects.values()]
    return repr(rows)


# --- services ---------------------------------------------------------------------------------------------


def test_creating_a_client_returns_a_key_once_and_stores_only_its_hash() -> None:
    credit = make_system("credit-limit")
    client, plaintext = apikeys.api_client_create(name="Acme Scoring", systems=[credit], actor=ADMIN)

    assert KEY_SHAPE.match(plaintext)
    key = client.keys.get()
    assert key.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext.split("_")[1] == key.prefix
    secret = plaintext.split("_", 2)[2]
    assert secret not in everything_stored()
    assert list(client.systems.all()) == [credit]


def test_creating_a_client_is_audited_without_the_key() -> None:
    credit = make_system("credit-limit")
    client, plaintext = apikeys.api_client_create(name="Acme Scoring", systems=[credit], actor=ADMIN)

    (created,) = events("api_client.created")
    assert (created.target_type, created.target_id) == ("core.apiclient", str(client.pk))
    assert (created.actor_type, created.actor_label) == ("user", "admin")
    assert created.data["systems"] == [{"id": credit.pk, "slug": "credit-limit"}]
    (issued,) = events("api_key.issued")
    assert issued.data == {"client": client.pk, "prefix": client.keys.get().prefix}
    assert plaintext not in repr(list(AuditEvent.objects.values()))


def test_a_second_client_with_the_same_name_is_refused() -> None:
    new_client("Acme Scoring")

    with pytest.raises(Conflict) as refused:
        new_client("Acme Scoring")

    assert refused.value.code == "api-client-exists"
    assert ApiClient.objects.count() == 1


def test_issuing_another_key_keeps_the_first_one_valid(client: Client) -> None:
    api_client, first = new_client()

    key, second = apikeys.api_key_issue(client=api_client, actor=ADMIN)

    assert first != second and KEY_SHAPE.match(second)
    assert apikeys.api_key_check(first) is not None
    assert apikeys.api_key_check(second) == key
    assert len(events("api_key.issued")) == 2


def test_no_key_is_issued_to_a_revoked_client() -> None:
    api_client, _ = new_client()
    apikeys.api_client_revoke(client=api_client, actor=ADMIN)

    with pytest.raises(Conflict) as refused:
        apikeys.api_key_issue(client=api_client, actor=ADMIN)

    assert refused.value.code == "api-client-revoked"
    assert api_client.keys.count() == 1


def test_revoking_a_key_is_audited_once() -> None:
    api_client, _ = new_client()
    key = api_client.keys.get()

    apikeys.api_key_revoke(key=key, actor=ADMIN)
    apikeys.api_key_revoke(key=key, actor=ADMIN)

    key.refresh_from_db()
    assert key.revoked_at is not None
    (revoked,) = events("api_key.revoked")
    assert revoked.data == {"client": api_client.pk, "prefix": key.prefix}


def test_revoking_a_client_revokes_all_its_keys() -> None:
    api_client, _ = new_client()
    apikeys.api_key_issue(client=api_client, actor=ADMIN)

    apikeys.api_client_revoke(client=api_client, actor=ADMIN)

    assert not api_client.keys.filter(revoked_at__isnull=True).exists()
    (revoked,) = events("api_client.revoked")
    assert len(revoked.data["keys_revoked"]) == 2


def test_a_key_check_rejects_a_tampered_or_malformed_key() -> None:
    _, plaintext = new_client()
    tampered = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")

    assert apikeys.api_key_check(plaintext) is not None
    assert apikeys.api_key_check(tampered) is None
    assert apikeys.api_key_check("ctb_short_secret") is None
    assert apikeys.api_key_check("not-a-key") is None


# --- authentication ---------------------------------------------------------------------------------------


@pytest.mark.urls("tests.core.urls")
def test_a_valid_key_authenticates_as_its_client(client: Client) -> None:
    _, plaintext = new_client("Acme Scoring")

    response = client.get("/api/test/probe/", **bearer(plaintext))

    assert response.status_code == 200
    assert response.json() == {"client": "Acme Scoring"}


@pytest.mark.urls("tests.core.urls")
@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "not-authenticated"),
        ("Bearer ctb_aaaaaaaaaa_" + "x" * 40, "api-key-invalid"),
        ("Bearer", "api-key-invalid"),
        ("Bearer one two", "api-key-invalid"),
        ("Bearer not-a-key", "api-key-invalid"),
    ],
)
def test_a_missing_or_wrong_key_answers_401(client: Client, header: str | None, code: str) -> None:
    new_client()
    extra: dict[str, Any] = {"HTTP_AUTHORIZATION": header} if header else {}

    response = client.get("/api/test/probe/", **extra)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == code


@pytest.mark.urls("tests.core.urls")
def test_a_revoked_key_answers_401(client: Client) -> None:
    api_client, plaintext = new_client()
    apikeys.api_key_revoke(key=api_client.keys.get(), actor=ADMIN)

    response = client.get("/api/test/probe/", **bearer(plaintext))

    assert response.status_code == 401
    assert response.json()["code"] == "api-key-revoked"


@pytest.mark.urls("tests.core.urls")
def test_a_key_of_a_revoked_client_answers_401(client: Client) -> None:
    api_client, plaintext = new_client()
    ApiClient.objects.filter(pk=api_client.pk).update(revoked_at=timezone.now())  # keys left unrevoked

    response = client.get("/api/test/probe/", **bearer(plaintext))

    assert response.status_code == 401
    assert response.json()["code"] == "api-key-revoked"


@pytest.mark.urls("tests.core.urls")
def test_last_used_is_written_at_most_once_a_minute(client: Client) -> None:
    api_client, plaintext = new_client()
    key = api_client.keys.get()
    assert key.last_used_at is None

    client.get("/api/test/probe/", **bearer(plaintext))
    key.refresh_from_db()
    first_use = key.last_used_at
    assert first_use is not None

    with CaptureQueriesContext(connection) as queries:
        client.get("/api/test/probe/", **bearer(plaintext))
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    key.refresh_from_db()
    assert key.last_used_at == first_use

    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first_use - timedelta(minutes=2))
    client.get("/api/test/probe/", **bearer(plaintext))
    key.refresh_from_db()
    assert key.last_used_at is not None and key.last_used_at > first_use - timedelta(minutes=1)


# --- scope ------------------------------------------------------------------------------------------------


@pytest.mark.urls("tests.core.urls")
def test_an_api_key_sees_only_its_own_systems(client: Client) -> None:
    credit, benefits, _moderation = (
        make_system("credit-limit"),
        make_system("benefit-eligibility"),
        make_system("content-moderation"),
    )
    _, plaintext = new_client(systems=[credit, benefits])

    response = client.get("/api/test/scope/", **bearer(plaintext))

    assert response.json() == {
        "ids": sorted([credit.pk, benefits.pk]),
        "slugs": ["benefit-eligibility", "credit-limit"],
    }


@pytest.mark.urls("tests.core.urls")
def test_a_key_without_systems_sees_nothing(client: Client) -> None:
    make_system("credit-limit")
    _, plaintext = new_client(systems=[])

    assert client.get("/api/test/scope/", **bearer(plaintext)).json() == {"ids": [], "slugs": []}


@pytest.mark.urls("tests.core.urls")
def test_a_staff_session_sees_every_system(client: Client) -> None:
    make_system("credit-limit")
    make_system("content-moderation")
    client.force_login(User.objects.create_user("officer", is_staff=True))

    response = client.get("/api/test/scope/")

    assert response.json() == {"ids": None, "slugs": ["content-moderation", "credit-limit"]}


@pytest.mark.urls("tests.core.urls")
def test_a_signed_in_user_who_is_not_staff_is_refused(client: Client) -> None:
    client.force_login(User.objects.create_user("someone"))

    response = client.get("/api/test/scope/")

    assert response.status_code == 403
    assert response.json()["code"] == "permission-denied"


# --- manage.py create_api_key -----------------------------------------------------------------------------


def run_create_api_key(*args: str) -> list[str]:
    out = StringIO()
    call_command("create_api_key", *args, stdout=out)
    return out.getvalue().rstrip("\n").split("\n")


@pytest.mark.urls("tests.core.urls")
def test_the_command_prints_a_working_key_alone_on_its_last_line(client: Client) -> None:
    make_system("credit-limit")
    make_system("benefit-eligibility")

    lines = run_create_api_key(
        "--name", "Acme Scoring", "--system", "credit-limit", "--system", "benefit-eligibility"
    )

    plaintext = lines[-1]
    assert KEY_SHAPE.match(plaintext)
    assert all(plaintext not in line for line in lines[:-1])
    api_client = ApiClient.objects.get(name="Acme Scoring")
    assert sorted(api_client.systems.values_list("slug", flat=True)) == [
        "benefit-eligibility",
        "credit-limit",
    ]
    assert client.get("/api/test/probe/", **bearer(plaintext)).json() == {"client": "Acme Scoring"}
    (created,) = events("api_client.created")
    assert created.actor_type == "system"
    assert len(events("api_key.issued")) == 1


def test_the_command_refuses_an_unknown_system_and_writes_nothing() -> None:
    make_system("credit-limit")

    with pytest.raises(CommandError, match="no-such-system"):
        run_create_api_key("--name", "Acme Scoring", "--system", "credit-limit", "--system", "no-such-system")

    assert not ApiClient.objects.exists()
    assert not ApiKey.objects.exists()
    assert not AuditEvent.objects.exists()


def test_the_command_gives_an_existing_client_a_new_key_and_more_systems() -> None:
    credit = make_system("credit-limit")
    make_system("benefit-eligibility")
    api_client, first = new_client("Acme Scoring", systems=[credit])

    lines = run_create_api_key("--name", "Acme Scoring", "--system", "benefit-eligibility")

    second = lines[-1]
    assert KEY_SHAPE.match(second) and second != first
    assert ApiClient.objects.count() == 1
    assert api_client.keys.count() == 2
    assert apikeys.api_key_check(first) is not None
    assert sorted(api_client.systems.values_list("slug", flat=True)) == [
        "benefit-eligibility",
        "credit-limit",
    ]
    (added,) = events("api_client.systems_added")
    assert [s["slug"] for s in added.data["systems"]] == ["benefit-eligibility"]


def test_the_command_refuses_a_revoked_client() -> None:
    make_system("credit-limit")
    api_client, _ = new_client("Acme Scoring")
    apikeys.api_client_revoke(client=api_client, actor=ADMIN)

    with pytest.raises(CommandError, match="revoked"):
        run_create_api_key("--name", "Acme Scoring", "--system", "credit-limit")

    assert api_client.keys.count() == 1
    assert not api_client.systems.exists()


# --- admin ------------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("root", "root@example.org", "pw-for-tests-only"))
    return client


@pytest.mark.urls("config.urls")
def test_the_admin_never_shows_a_stored_key_hash(admin_client: Client) -> None:
    api_client, _ = new_client()
    key = api_client.keys.get()

    pages = [
        admin_client.get("/admin/core/apikey/").content.decode(),
        admin_client.get(f"/admin/core/apikey/{key.pk}/change/").content.decode(),
        admin_client.get(f"/admin/core/apiclient/{api_client.pk}/change/").content.decode(),
    ]

    for page in pages:
        assert key.key_hash not in page
        assert f"ctb_{key.prefix}_" in page


@pytest.mark.urls("config.urls")
def test_the_admin_revokes_keys_through_the_service(admin_client: Client) -> None:
    api_client, _ = new_client()
    key = api_client.keys.get()

    admin_client.post("/admin/core/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]})

    key.refresh_from_db()
    assert key.revoked_at is not None
    (revoked,) = events("api_key.revoked")
    assert revoked.actor_label == "root"


@pytest.mark.urls("config.urls")
def test_the_admin_shows_a_new_key_once_on_an_uncached_page(admin_client: Client) -> None:
    api_client, _ = new_client()

    response = admin_client.post(
        "/admin/core/apiclient/", {"action": "issue_key", "_selected_action": [api_client.pk]}
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    shown = re.search(r"ctb_[a-z0-9]{10}_[A-Za-z0-9]{40}", response.content.decode())
    assert shown is not None
    assert apikeys.api_key_check(shown.group(0)) is not None
    assert api_client.keys.count() == 2


@pytest.mark.urls("config.urls")
def test_adding_a_client_in_the_admin_goes_through_the_service_and_shows_its_key(
    admin_client: Client,
) -> None:
    response = admin_client.post("/admin/core/apiclient/add/", {"name": "Beta Benefits", "contact_email": ""})

    assert response.status_code == 200
    api_client = ApiClient.objects.get(name="Beta Benefits")
    shown = re.search(r"ctb_[a-z0-9]{10}_[A-Za-z0-9]{40}", response.content.decode())
    assert shown is not None
    assert apikeys.api_key_check(shown.group(0)) == api_client.keys.get()
    assert len(events("api_client.created")) == 1
