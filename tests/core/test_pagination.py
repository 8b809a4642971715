"""Cursor pagination: stable pages over a growing list, ordering per view, newest recorded first."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIRequestFactory

from core.api.pagination import CursorPagination
from core.models import ApiClient
from tests.core.api_helpers import bearer, new_client

pytestmark = pytest.mark.django_db


@pytest.mark.urls("tests.core.urls")
def test_walking_the_cursor_visits_every_row_once_in_the_views_order(client: Client) -> None:
    _, key = new_client("client-00")
    for i in range(1, 8):
        ApiClient.objects.create(name=f"client-{i:02d}")

    seen: list[str] = []
    url: str | None = "/api/test/clients/?page_size=3"
    pages = 0
    while url:
        body = client.get(url, **bearer(key)).json()
        assert set(body) == {"next", "previous", "results"}
        seen.extend(r["name"] for r in body["results"])
        url = body["next"]
        pages += 1

    assert pages == 3
    assert seen == [f"client-{i:02d}" for i in range(8)]


@pytest.mark.urls("tests.core.urls")
def test_rows_added_meanwhile_do_not_shift_the_next_page(client: Client) -> None:
    _, key = new_client("client-00")
    for i in range(1, 6):
        ApiClient.objects.create(name=f"client-{i:02d}")

    first = client.get("/api/test/clients/?page_size=3", **bearer(key)).json()
    ApiClient.objects.create(name="client-000")  # sorts before everything already seen
    second = client.get(first["next"], **bearer(key)).json()

    assert [r["name"] for r in second["results"]] == ["client-03", "client-04", "client-05"]


@pytest.mark.urls("tests.core.urls")
def test_a_tampered_cursor_answers_a_404_problem(client: Client) -> None:
    _, key = new_client()

    response = client.get("/api/test/clients/?cursor=garbage", **bearer(key))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_the_default_ordering_is_newest_recorded_first() -> None:
    request = APIRequestFactory().get("/")

    class PlainView:
        pass

    ordering = CursorPagination().get_ordering(request, ApiClient.objects.none(), PlainView())

    assert ordering == ("-recorded_at",)


def test_a_view_cannot_order_the_cursor_by_a_lookup() -> None:
    from django.core.exceptions import ImproperlyConfigured

    class LookupView:
        cursor_ordering = "-system__slug"

    with pytest.raises(ImproperlyConfigured):
        CursorPagination().get_ordering(APIRequestFactory().get("/"), ApiClient.objects.none(), LookupView())
