from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core import views as core_views

api_v1 = [
    path("", include("decisions.urls")),
    path("", include("appeals.api_urls")),
    path("oversight/", include("oversight.urls_api")),
]

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("problems/<slug:code>/", core_views.problem_type, name="problem-type"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("staff/outbox/", include("notifications.urls")),
    path("staff/notices/", include("decisions.urls_staff")),
    path("review/", include("appeals.urls")),
    path("portal/", include("portal.urls")),
    path("oversight/", include("oversight.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
]

# Django's own 404 and 500 answer RFC 9457 problem details on /api/ paths (HTML elsewhere).
handler404 = "core.api.errors.handler404"
handler500 = "core.api.errors.handler500"
