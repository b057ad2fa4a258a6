"""The Alerts page's URLs, mounted at /admin/ops/alerts/."""

from __future__ import annotations

from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.alerts_page, name="page"),
    path("export.csv", views.alerts_export, name="export"),
    path("<int:alert_id>/ack/", views.alert_ack, name="ack"),
    path("rules/<int:rule_id>/", views.rule_save, name="rule"),
    path("preferences/", views.preference_save, name="preferences"),
    path("silences/", views.silence_save, name="silence"),
    path("silences/<int:silence_id>/end/", views.silence_end, name="silence-end"),
]
