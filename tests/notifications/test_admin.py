"""Admin screens for the outbox: notices and messages read-only, endpoint secrets shown once."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from core.models import ApiClient, AuditEvent, User
from notifications.models import Notice, WebhookEndpoint, WebhookMessage
from notifications.services import notice_create
from notifications.webhooks import queue_webhook_delivery, webhook_emit, webhook_endpoint_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(client):
    user = User.objects.create(username="ada", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


@pytest.fixture
def integrator():
    return ApiClient.objects.create(name="Acme Bank scoring")


def test_notices_are_listed_and_shown_but_cannot_be_added_changed_or_deleted(
    client, admin_user, spec, actor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        notice = notice_create(spec=spec(), actor=actor)

    assert client.get(reverse("admin:notifications_notice_changelist")).status_code == 200
    for term in ("not-a-uuid", str(notice.pk), notice.recipient):
        assert client.get(reverse("admin:notifications_notice_changelist"), {"q": term}).status_code == 200
    page = client.get(reverse("admin:notifications_notice_change", args=[notice.pk]))
    assert page.status_code == 200
    assert notice.subject in page.content.decode()
    assert client.get(reverse("admin:notifications_notice_add")).status_code == 403
    client.post(reverse("admin:notifications_notice_change", args=[notice.pk]), {"subject": "changed"})
    assert (
        client.post(
            reverse("admin:notifications_notice_delete", args=[notice.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert Notice.objects.get(pk=notice.pk).subject == notice.subject


def test_a_new_endpoint_gets_a_secret_shown_once_and_masked_after(client, admin_user, integrator):
    response = client.post(
        reverse("admin:notifications_webhookendpoint_add"),
        {
            "client": integrator.pk,
            "url": "https://hooks.acme.example/contestable",
            "event_types": "decision.effective, decision.reversed",
            "active": "on",
            "description": "",
        },
    )

    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get()
    found = re.search(r'id="webhook-secret"[^>]*>([^<]+)<', response.content.decode())
    assert found is not None
    shown = found.group(1)
    assert shown == endpoint.secret and shown.startswith("whsec_")
    assert endpoint.event_types == ["decision.effective", "decision.reversed"]
    event = AuditEvent.objects.get(action="webhook_endpoint.created")
    assert event.actor_id == str(admin_user.pk)

    later = client.get(
        reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk])
    ).content.decode()
    assert endpoint.secret not in later
    assert endpoint.secret[:10] + "…" in later


def test_an_endpoint_with_a_non_http_url_is_refused_in_the_form(client, admin_user, integrator):
    response = client.post(
        reverse("admin:notifications_webhookendpoint_add"),
        {"client": integrator.pk, "url": "ftp://acme.example/x", "event_types": "", "active": "on"},
    )
    assert response.status_code == 200
    assert not WebhookEndpoint.objects.exists()


def test_rotating_a_secret_shows_the_new_one_once_and_is_audited(client, admin_user, integrator, actor):
    endpoint, old = webhook_endpoint_create(client=integrator, url="https://a.example/h", actor=actor)

    response = client.post(
        reverse("admin:notifications_webhookendpoint_changelist"),
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
    )

    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert endpoint.secret in response.content.decode()
    assert AuditEvent.objects.filter(
        action="webhook_endpoint.secret_rotated", target_id=str(endpoint.pk)
    ).exists()


def test_a_failed_webhook_message_can_be_sent_again_from_the_admin(
    client, admin_user, integrator, actor, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(client=integrator, url="https://a.example/h", actor=actor)
    with django_capture_on_commit_callbacks(execute=False):
        [message] = webhook_emit(client=integrator, event_type="decision.effective", payload={}, actor=actor)
    WebhookMessage.objects.filter(pk=message.pk).update(status=WebhookMessage.Status.FAILED, attempts=8)
    assert client.get(reverse("admin:notifications_webhookmessage_changelist")).status_code == 200
    assert (
        client.get(reverse("admin:notifications_webhookmessage_change", args=[message.pk])).status_code == 200
    )

    with django_capture_on_commit_callbacks(execute=False) as queued:
        client.post(
            reverse("admin:notifications_webhookmessage_changelist"),
            {"action": "retry_failed", "_selected_action": [str(message.pk)]},
        )

    message.refresh_from_db()
    assert (message.status, message.attempts) == (WebhookMessage.Status.PENDING, 0)
    assert AuditEvent.objects.filter(action="webhook.retried", target_id=str(message.pk)).count() == 1
    assert [c for c in queued if getattr(c, "func", None) is queue_webhook_delivery]
