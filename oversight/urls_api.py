"""API v1 routes of oversight, mounted at /api/v1/oversight/ (config.urls, namespace "v1")."""

from django.urls import path

from oversight.apis import TransparencyReportApi

urlpatterns = [
    path("transparency-report/", TransparencyReportApi.as_view(), name="oversight-transparency-report"),
]
