"""Routes of `diagnostics` under /api/."""

from __future__ import annotations

from django.urls import path

from diagnostics import api

urlpatterns = [path("diagnostics", api.DiagnosticsView.as_view(), name="api-diagnostics")]
