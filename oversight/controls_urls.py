"""URLs of the oversight controls' staff pages, added to ``oversight.urls`` (namespace ``oversight``)."""

from django.urls import path

from oversight import controls_views as views

urlpatterns = [
    path("incidents/", views.incident_list, name="incidents"),
    path("incidents/<uuid:incident_id>/", views.incident_detail, name="incident"),
    path("incidents/<uuid:incident_id>/widespread/", views.incident_widespread, name="incident-widespread"),
    path("incidents/<uuid:incident_id>/reported/", views.incident_reported, name="incident-reported"),
    path("incidents/<uuid:incident_id>/close/", views.incident_close, name="incident-close"),
    path("incidents/<uuid:incident_id>/note/", views.incident_note, name="incident-note"),
    path("stop-switch/<slug:slug>/resume/", views.system_resume, name="system-resume"),
    path("remedies/", views.remedy_list, name="remedies"),
    path("remedies/new/", views.remedy_new, name="remedy-new"),
    path("remedies/<uuid:campaign_id>/", views.remedy_detail, name="remedy"),
    path(
        "remedies/<uuid:campaign_id>/items/<int:item_id>/resolve/",
        views.remedy_item_resolve,
        name="remedy-item-resolve",
    ),
    path("remedies/<uuid:campaign_id>/process/", views.remedy_process, name="remedy-process"),
]
