"""The Settings page's URLs, mounted at /admin/ops/settings/."""

from __future__ import annotations

from django.urls import path

from indexes.peers import views

app_name = "settings"

urlpatterns = [
    path("", views.settings_page, name="page"),
    path("credentials/", views.credential_save, name="credential-save"),
    path("credentials/<str:name>/remove/", views.credential_remove, name="credential-remove"),
    path("credentials/<str:name>/verify/", views.credential_verify, name="credential-verify"),
    path("peers/", views.peer_add, name="peer-add"),
    path("peers/<str:name>/remove/", views.peer_remove, name="peer-remove"),
    path("peers/<str:name>/verify/", views.peer_verify, name="peer-verify"),
]
