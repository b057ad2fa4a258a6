from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from indexes import views as indexes_views
from monitoring.api import MetricsView

urlpatterns = [
    path("admin/ops/index/", include("indexes.dashboard.urls")),
    path("admin/ops/monitoring/", include("monitoring.page_urls")),
    path("admin/ops/alerts/", include("alerts.page_urls")),
    path("admin/ops/settings/", include("indexes.peers.urls")),
    path("admin/ops/", include("operations.urls")),
    path("admin/ops/embedding/retry/", indexes_views.embedding_retry, name="ops-embedding-retry"),
    path("admin/ops/embedding/run/", indexes_views.embedding_run, name="ops-embedding-run"),
    path("admin/", admin.site.urls),
    path("ops/", RedirectView.as_view(pattern_name="ops:dashboard", permanent=False)),
    path("api/", include("operations.api.urls")),
    path("api/", include("indexes.urls")),
    path("api/", include("monitoring.urls")),
    path("api/", include("alerts.urls")),
    path("api/", include("diagnostics.urls")),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
