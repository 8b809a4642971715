from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.start, name="start"),
    path("open/<str:token>", views.open_link, name="open"),
    path("decision/", views.decision_page, name="decision"),
    path("sign-out/", views.sign_out, name="sign-out"),
]
