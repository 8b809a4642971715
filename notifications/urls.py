"""Staff outbox pages, mounted at /staff/outbox/ (config.urls)."""

from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.outbox_list, name="outbox"),
    path("<uuid:notice_id>/", views.outbox_detail, name="outbox-detail"),
    path("<uuid:notice_id>/retry/", views.outbox_retry, name="outbox-retry"),
    path("<uuid:notice_id>/resolve/", views.outbox_resolve, name="outbox-resolve"),
    path("demo-integrator/<int:client_id>/", views.demo_integrator_receiver, name="demo-integrator"),
]
