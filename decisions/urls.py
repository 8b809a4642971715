from django.urls import path

from decisions.apis_exports import DsaStatementsExportApi

urlpatterns: list = [
    path("exports/dsa-statements/", DsaStatementsExportApi.as_view(), name="exports-dsa-statements"),
]
