"""API v1 routes of appeals (included under /api/v1/ by config/urls.py, namespace "v1")."""

from django.urls import path

from appeals import apis

urlpatterns = [
    path("appeals/", apis.AppealsApi.as_view(), name="appeal-list"),
    path("appeals/<uuid:pk>/", apis.AppealDetailApi.as_view(), name="appeal-detail"),
    path("appeals/<uuid:pk>/withdraw/", apis.AppealWithdrawApi.as_view(), name="appeal-withdraw"),
    path("appeals/<uuid:pk>/evidence/", apis.AppealEvidenceApi.as_view(), name="appeal-evidence"),
    path("review/claim-next/", apis.ReviewClaimNextApi.as_view(), name="review-claim-next"),
    path("review/appeals/<uuid:pk>/release/", apis.ReviewReleaseApi.as_view(), name="review-release"),
    path("review/appeals/<uuid:pk>/reassign/", apis.ReviewReassignApi.as_view(), name="review-reassign"),
    path("review/appeals/<uuid:pk>/triage/", apis.ReviewTriageApi.as_view(), name="review-triage"),
    path(
        "review/appeals/<uuid:pk>/open-evidence/",
        apis.ReviewOpenEvidenceApi.as_view(),
        name="review-open-evidence",
    ),
    path(
        "review/appeals/<uuid:pk>/blind-assessment/",
        apis.ReviewBlindAssessmentApi.as_view(),
        name="review-blind-assessment",
    ),
    path("review/appeals/<uuid:pk>/decide/", apis.ReviewDecideApi.as_view(), name="review-decide"),
    path(
        "review/appeals/<uuid:pk>/confirm-second/",
        apis.ReviewConfirmSecondApi.as_view(),
        name="review-confirm-second",
    ),
    path(
        "review/appeals/<uuid:pk>/request-information/",
        apis.ReviewRequestInformationApi.as_view(),
        name="review-request-information",
    ),
    path("review/appeals/<uuid:pk>/messages/", apis.ReviewMessagesApi.as_view(), name="review-messages"),
    path("decisions/<uuid:pk>/disputes/", apis.DecisionDisputeApi.as_view(), name="decision-disputes"),
    path(
        "decisions/<uuid:pk>/explanation-requests/",
        apis.DecisionExplanationRequestApi.as_view(),
        name="decision-explanation-requests",
    ),
]
