"""Oversight pages for staff, mounted at /oversight/ (config.urls)."""

from django.urls import path

from oversight import views

app_name = "oversight"

urlpatterns = [
    path("", views.home, name="home"),
    path("refresh/", views.refresh, name="refresh"),
    path("systems/<slug:slug>/", views.system_detail, name="system"),
    path("reviewers/", views.reviewers, name="reviewers"),
    path("transparency/", views.transparency, name="transparency"),
    path("audit/", views.audit_log, name="audit-log"),
    path("audit/verify/", views.audit_verify, name="audit-verify"),
    path("decisions/", views.decision_list, name="decisions"),
    path("appeals/", views.appeal_list, name="appeals"),
]

# The controls: the stop switch and its incidents (S29), remedy campaigns (S30).
from oversight import controls_urls  # noqa: E402

urlpatterns += controls_urls.urlpatterns
