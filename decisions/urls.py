"""API v1 routes of decisions (included under /api/v1/ by config/urls.py, namespace "v1")."""

from django.urls import path

from decisions import apis
from decisions.apis_exports import DsaStatementsExportApi

urlpatterns = [
    path("decisions/", apis.DecisionsApi.as_view(), name="decision-list"),
    path("decisions/batch/", apis.DecisionBatchApi.as_view(), name="decision-batch"),
    path("decisions/<uuid:pk>/", apis.DecisionDetailApi.as_view(), name="decision-detail"),
    path("decisions/<uuid:pk>/supersede/", apis.DecisionSupersedeApi.as_view(), name="decision-supersede"),
    path("systems/", apis.SystemListApi.as_view(), name="system-list"),
    path("systems/<slug:slug>/", apis.SystemDetailApi.as_view(), name="system-detail"),
    path(
        "systems/<slug:slug>/versions/<str:version>/",
        apis.SystemVersionDetailApi.as_view(),
        name="system-version-detail",
    ),
    path("exports/dsa-statements/", DsaStatementsExportApi.as_view(), name="exports-dsa-statements"),
]
