"""Staff pages of decisions, mounted at /staff/notices/ (config.urls)."""

from django.urls import path

from decisions import views

app_name = "decisions_staff"

urlpatterns = [
    path("overdue/", views.notices_overdue, name="notices-overdue"),
    path("<uuid:decision_id>/compose/", views.notice_compose_again, name="notice-compose-again"),
]
