"""Routes of `monitoring` under /api/ (and /metrics, mounted at the root by chlops.urls)."""

from __future__ import annotations

from django.urls import path

from monitoring import api

urlpatterns = [
    path("health", api.HealthView.as_view(), name="api-health"),
    path("health/modules/<str:name>", api.ModuleHealthView.as_view(), name="api-health-module"),
    path("monitoring/performance", api.PerformanceView.as_view(), name="api-monitoring-performance"),
    path("monitoring/database", api.DatabaseView.as_view(), name="api-monitoring-database"),
    path("monitoring/db/pool", api.DatabasePoolView.as_view(), name="api-monitoring-db-pool"),
    path("monitoring/cache", api.CacheView.as_view(), name="api-monitoring-cache"),
    path("monitoring/workers", api.WorkersView.as_view(), name="api-monitoring-workers"),
    path("monitoring/cache/clear", api.CacheClearView.as_view(), name="api-monitoring-cache-clear"),
]
