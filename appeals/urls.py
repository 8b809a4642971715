"""The reviewer pages, mounted at /review/ (config.urls). ``{% url 'appeals:review' %}`` is "my queues"."""

from django.urls import path

from appeals import views

app_name = "appeals"

urlpatterns = [
    path("", views.review_home, name="review"),
    path("next/", views.next_case, name="next-case"),
    path("appeals/<uuid:appeal_id>/", views.case_page, name="case"),
    path("appeals/<uuid:appeal_id>/statement/", views.open_statement, name="open-statement"),
    path("appeals/<uuid:appeal_id>/evidence/<uuid:evidence_id>/", views.evidence_file, name="evidence"),
    path("appeals/<uuid:appeal_id>/assessment/", views.blind_assessment, name="blind-assessment"),
    path("appeals/<uuid:appeal_id>/decide/", views.decide, name="decide"),
    path("appeals/<uuid:appeal_id>/confirm/", views.confirm_second, name="confirm-second"),
    path("appeals/<uuid:appeal_id>/information/", views.request_information, name="request-information"),
    path("appeals/<uuid:appeal_id>/messages/", views.post_message, name="message"),
    path("appeals/<uuid:appeal_id>/release/", views.release, name="release"),
    path("appeals/<uuid:appeal_id>/reassign/", views.reassign, name="reassign"),
    path("appeals/<uuid:appeal_id>/triage/", views.triage, name="triage"),
]
