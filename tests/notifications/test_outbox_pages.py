"""The staff outbox pages: who may see them, what they show (S12 overdue, S15 attempts), and the notice
rendered as the person saw it, its HTML sandboxed."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent, User
from notifications.models import Notice
from notifications.services import notice_create, notice_deliver

pytestmark = pytest.mark.django_db

OUTBOX = "/staff/outbox/"


def staff(username: str, *groups: str, is_staff: bool = False) -> User:
    user = User.objects.create(username=username, is_staff=is_staff)
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


@pytest.fixture
def reviewer(client):
    user = staff("rui", "reviewer")
    client.force_login(user)
    return user


@pytest.fixture
def make(spec, actor, django_capture_on_commit_callbacks):
    def go(**overrides):
        with django_capture_on_commit_callbacks(execute=False):
            return notice_create(spec=spec(**overrides), actor=actor)

    return go


def test_the_outbox_is_mounted_where_the_nav_links_to():
    assert reverse("notifications:outbox") == OUTBOX


def test_a_visitor_who_is_not_logged_in_is_sent_to_log_in(client):
    response = client.get(OUTBOX)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_logged_in_user_without_a_staff_role_is_refused(client):
    client.force_login(staff("someone"))
    assert client.get(OUTBOX).status_code == 403


@pytest.mark.parametrize("groups", [("reviewer",), ("senior reviewer",), ("admin",), ("auditor",)])
def test_each_staff_role_may_read_the_outbox(client, groups):
    client.force_login(staff("x", *groups))
    assert client.get(OUTBOX).status_code == 200


def test_the_list_shows_each_notice_with_status_attempts_and_overdue_flag(client, reviewer, make):
    on_time = make(kind="decision")
    late = make(kind="appeal_received", due_at=timezone.now() - timedelta(days=2))
    Notice.objects.filter(pk=on_time.pk).update(attempts=2)

    response = client.get(OUTBOX)

    body = response.content.decode()
    assert response.status_code == 200
    assert reverse("notifications:outbox-detail", args=[on_time.pk]) in body
    assert reverse("notifications:outbox-detail", args=[late.pk]) in body
    assert "Decision notice" in body and "Appeal received" in body
    assert body.count("Overdue") == 1
    assert "<td>2</td>" in body
    assert on_time.recipient in body
    assert "ana@example.org" not in body  # addresses stay off the list


def test_the_needs_attention_filter_lists_only_failed_deliveries(client, reviewer, make):
    ok = make()
    bad = make(to_address="nobody-at-all")
    notice_deliver(notice_id=bad.pk)

    body = client.get(OUTBOX, {"attention": "1"}).content.decode()

    assert str(bad.pk) in body
    assert str(ok.pk) not in body
    assert "Needs attention" in body


def test_the_overdue_filter_lists_late_notices_only(client, reviewer, make):
    late = make(due_at=timezone.now() - timedelta(hours=1))
    fine = make()
    body = client.get(OUTBOX, {"overdue": "1"}).content.decode()
    assert str(late.pk) in body and str(fine.pk) not in body


def test_unknown_filter_values_are_ignored_rather_than_failing(client, reviewer, make):
    make()
    response = client.get(OUTBOX, {"status": "nonsense", "kind": "<script>", "page": "abc"})
    assert response.status_code == 200


def test_the_list_pages_with_a_constant_number_of_queries(
    client, reviewer, make, django_assert_max_num_queries
):
    for _ in range(5):
        make()
    with django_assert_max_num_queries(8) as few:
        client.get(OUTBOX)
    for _ in range(60):
        make()
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(OUTBOX)
    assert "Page 1 of 2" in response.content.decode()
    assert client.get(OUTBOX, {"page": 2}).status_code == 200


def test_the_detail_page_shows_the_notice_as_the_person_saw_it_with_its_html_sandboxed(
    client, reviewer, make
):
    notice = make(body_html='<p style="color:red">Hello <b>Ana</b></p><script>alert("x")</script>')
    notice_deliver(notice_id=notice.pk)

    response = client.get(reverse("notifications:outbox-detail", args=[notice.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert notice.subject in body
    assert html.escape(notice.body_text) in body
    iframe_tag = re.search(r"<iframe[^>]*>", body)
    assert iframe_tag is not None
    iframe = iframe_tag.group(0)
    assert 'sandbox=""' in iframe
    srcdoc_attr = re.search(r'srcdoc="([^"]*)"', iframe)
    assert srcdoc_attr is not None
    srcdoc = srcdoc_attr.group(1)
    assert html.unescape(srcdoc) == notice.body_html  # exactly what was sent, inside the sandbox
    assert "<script>" not in body  # never live in the staff page itself
    assert "script-src 'none'" in response["Content-Security-Policy"]
    assert "ana@example.org" in body  # reviewers see where it went
    assert "Delivered" in body
    assert "Delivery attempts" in body


def test_an_auditor_sees_the_address_masked_and_no_buttons(client, make):
    client.force_login(staff("aud", "auditor"))
    notice = make(to_address="ana.lopez@example.org")
    Notice.objects.filter(pk=notice.pk).update(status=Notice.Status.FAILED, needs_attention=True)

    body = client.get(reverse("notifications:outbox-detail", args=[notice.pk])).content.decode()

    assert "ana.lopez@example.org" not in body
    assert "a…@example.org" in body
    assert "Try sending again" not in body
    response = client.post(reverse("notifications:outbox-retry", args=[notice.pk]))
    assert response.status_code == 403
    assert Notice.objects.get(pk=notice.pk).status == Notice.Status.FAILED


def test_an_unknown_notice_is_a_404(client, reviewer):
    assert client.get(OUTBOX + "00000000-0000-7000-8000-000000000000/").status_code == 404
    assert client.get(OUTBOX + "not-a-uuid/").status_code == 404


def test_a_reviewer_can_retry_a_failed_notice_and_it_is_audited(
    client, reviewer, make, django_capture_on_commit_callbacks
):
    notice = make(to_address="ana@example.org")
    Notice.objects.filter(pk=notice.pk).update(status=Notice.Status.FAILED, needs_attention=True, attempts=8)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("notifications:outbox-retry", args=[notice.pk]))

    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.status == Notice.Status.DELIVERED  # queued on commit; eager delivery in tests
    assert len(mail.outbox) == 1
    event = AuditEvent.objects.get(action="notice.retried")
    assert (event.actor_type, event.actor_id) == ("user", str(reviewer.pk))


def test_retrying_a_notice_that_has_not_failed_says_why_instead_of_failing(client, reviewer, make):
    notice = make()
    response = client.post(reverse("notifications:outbox-retry", args=[notice.pk]), follow=True)
    assert response.status_code == 200
    assert "Only a failed notice can be tried again." in response.content.decode()


def test_a_reviewer_records_that_the_person_was_reached_another_way(client, reviewer, make):
    notice = make()
    Notice.objects.filter(pk=notice.pk).update(status=Notice.Status.FAILED, needs_attention=True)

    refused = client.post(
        reverse("notifications:outbox-resolve", args=[notice.pk]), {"how": "carrier pigeon"}
    )
    assert refused.status_code == 302
    assert Notice.objects.get(pk=notice.pk).needs_attention is True

    client.post(reverse("notifications:outbox-resolve", args=[notice.pk]), {"how": "post"})

    notice.refresh_from_db()
    assert notice.needs_attention is False
    assert notice.status == Notice.Status.FAILED  # the email still failed; the record says so
    event = AuditEvent.objects.get(action="notice.attention_resolved")
    assert event.data["how"] == "post"
    assert event.target_id == str(notice.pk)


def test_the_staff_layout_has_the_nav_and_a_log_out_form(client, make):
    client.force_login(staff("boss", "admin", is_staff=True))
    body = client.get(OUTBOX).content.decode()
    assert 'aria-label="Staff"' in body
    assert 'href="/staff/outbox/" aria-current="page">Outbox' in body
    assert 'href="/admin/"' in body
    assert 'action="/accounts/logout/"' in body
    assert "Skip to main content" in body
    assert "http://" not in body and "https://" not in body  # no external assets


def test_signing_in_from_the_outbox_returns_to_the_outbox(client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; not what is tested
    user = User.objects.create(username="rui", is_staff=False)
    user.set_password("a-long-demo-passphrase")
    user.save()
    user.groups.add(Group.objects.get_or_create(name="reviewer")[0])

    login_page = client.get(OUTBOX, follow=True)
    assert login_page.status_code == 200
    assert 'name="next" value="/staff/outbox/"' in login_page.content.decode()

    wrong = client.post("/accounts/login/", {"username": "rui", "password": "nope", "next": OUTBOX})
    assert wrong.status_code == 200
    assert "There is a problem" in wrong.content.decode()
    assert 'value="rui"' in wrong.content.decode()  # what they typed is kept

    right = client.post(
        "/accounts/login/", {"username": "rui", "password": "a-long-demo-passphrase", "next": OUTBOX}
    )
    assert right.status_code == 302 and right["Location"] == OUTBOX
