"""Routes of `alerts` under /api/."""

from __future__ import annotations

from django.urls import path

from alerts import api

urlpatterns = [
    path("alerts", api.AlertListView.as_view(), name="api-alerts"),
    path("alerts/<int:alert_id>", api.AlertDetailView.as_view(), name="api-alert"),
    path("alerts/silences", api.SilenceListView.as_view(), name="api-alert-silences"),
    path("alerts/silences/<int:silence_id>/end", api.SilenceEndView.as_view(), name="api-alert-silence-end"),
    path("alerts/<int:alert_id>/ack", api.AlertAckView.as_view(), name="api-alert-ack"),
]
