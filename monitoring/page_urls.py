"""The Monitoring page's URLs, mounted at /admin/ops/monitoring/."""

from __future__ import annotations

from django.urls import path

from monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("", views.monitoring_page, name="page"),
    path("performance/", views.performance_section, name="performance"),
    path("cache/clear/", views.cache_clear, name="cache-clear"),
    path("modules/<slug:name>/", views.module_page, name="module"),
    path("modules/<slug:name>/charts/", views.module_charts, name="module-charts"),
]
