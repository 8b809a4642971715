from django.urls import path

from portal import views, views_journeys, views_status, views_systems

app_name = "portal"

_JOURNEY = "<str:name>"

urlpatterns = [
    # The way in.
    path("", views.start, name="start"),
    path("open/<str:token>", views.open_link, name="open"),
    path("sign-out/", views.sign_out, name="sign-out"),
    path("signed-out/", views.signed_out, name="signed-out"),
    # The decision, the inbox and the case file.
    path("decision/", views.decision_page, name="decision"),
    path("decision/<str:reference>/", views.decision_switch, name="decision-switch"),
    path("messages/<uuid:notice_id>/", views.message, name="message"),
    path("case-file/", views.case_file, name="case-file"),
    path("case-file.json", views.case_file_json, name="case-file-json"),
    path("evidence/<uuid:evidence_id>/", views.evidence, name="evidence"),
    # Journeys: one question per page, check your answers, send.
    path("appeal/", views_journeys.appeal_start, name="appeal-start"),
    path("dispute/value/<str:feature>/", views_journeys.dispute_for, name="dispute-for"),
    # After sending.
    path("appeals/<str:reference>/", views_status.appeal_status, name="appeal-status"),
    path("appeals/<str:reference>/sent/", views_journeys.appeal_sent, name="appeal-sent"),
    path("appeals/<str:reference>/receipt/", views_journeys.appeal_receipt, name="appeal-receipt"),
    path(
        "appeals/<str:reference>/receipt.txt", views_journeys.appeal_receipt_text, name="appeal-receipt-text"
    ),
    path("appeals/<str:reference>/reply/", views_status.appeal_reply, name="appeal-reply"),
    path("appeals/<str:reference>/documents/", views_status.appeal_documents, name="appeal-documents"),
    path("appeals/<str:reference>/message/", views_status.appeal_message, name="appeal-message"),
    path("appeals/<str:reference>/withdraw/", views_status.appeal_withdraw, name="appeal-withdraw"),
    path("disputes/<str:reference>/", views_status.dispute_status, name="dispute-status"),
    path("disputes/<str:reference>/sent/", views_journeys.dispute_sent, name="dispute-sent"),
    path("disputes/<str:reference>/add/", views_status.dispute_add, name="dispute-add"),
    path("explanations/<str:reference>/", views_status.explanation_status, name="explanation-status"),
    path("explanations/<str:reference>/sent/", views_journeys.explanation_sent, name="explanation-sent"),
    # How each decision system works (S4), public. Before the journeys: they match any two segments.
    path("systems/", views_systems.system_index, name="systems"),
    path("systems/<slug:slug>/", views_systems.system_page, name="system"),
    # Last: these match any two path segments (only "appeal", "dispute" and "explanation" are journeys).
    path(f"{_JOURNEY}/check/", views_journeys.journey_check, name="journey-check"),
    path(f"{_JOURNEY}/start/", views_journeys.journey_begin, name="journey-begin"),
    path(f"{_JOURNEY}/<slug:slug>/", views_journeys.journey_step, name="journey-step"),
]
