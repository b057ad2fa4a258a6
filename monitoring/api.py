"""The monitoring API and /metrics: parse, call one selector, respond (DESIGN §6)."""

from __future__ import annotations

from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring import performance, prometheus, services
from monitoring.health import selectors
from monitoring.status import cache, database, workers
from monitoring.status.params import params_check
from operations.api.permissions import SOURCE, CanRunJobs, CanViewDashboard
from operations.api.serializers import job_json


class HealthView(APIView):
    permission_classes = [CanViewDashboard]

    def get(self, request):
        return Response(selectors.health_overview().as_json())


class ModuleHealthView(APIView):
    permission_classes = [CanViewDashboard]

    def get(self, request, name: str):
        detail = selectors.module_detail(name)
        view = detail["view"]
        return Response(
            {
                "module": view.name,
                "title": view.module.title,
                "about": view.module.about,
                **view.as_json(),
                "derived": view.derived,
                "checks": view.checks,
                "meaning": {"degraded": view.module.degraded, "down": view.module.down, "what_to_do": view.module.todo},
                "history": [
                    {"at": e.at.isoformat(), "status": e.status, "previous": e.previous or None, "message": e.message}
                    for e in detail["events"]
                ],
                "failed_jobs": [job_json(job) for job in detail["failed_jobs"]],
            }
        )


class PerformanceView(APIView):
    permission_classes = [CanViewDashboard]

    def get(self, request):
        return Response(performance.performance(performance.range_parse(request.query_params.get("range"))))


class DatabaseView(APIView):
    permission_classes = [CanViewDashboard]

    def get(self, request):
        params_check(request.query_params, ("range",))
        return Response(database.database_overview(performance.range_parse(request.query_params.get("range"))))


class DatabasePoolView(APIView):
    permission_classes = [CanViewDashboard]

    def get(self, request):
        params_check(request.query_params, ())
        return Response(database.pool_status())


class CacheView(APIView):
    permission_classes = [CanViewDashboard]

    def get(self, request):
        params_check(request.query_params, ())
        return Response(cache.cache_overview())


class CacheClearView(APIView):
    """Clear the Django cache (its own keys only): whoever may run jobs; anyone else 403, audited."""

    permission_classes = [CanRunJobs]

    def post(self, request):
        params_check(request.query_params, ())
        removed = services.cache_clear(actor=request.user, source=SOURCE)
        return Response({"removed": removed, "message": cache.cleared_sentence(removed)})


class WorkersView(APIView):
    permission_classes = [CanViewDashboard]

    def get(self, request):
        params_check(request.query_params, ("range",))
        return Response(workers.worker_status(performance.range_parse(request.query_params.get("range"))))


class MetricsView(APIView):
    """Prometheus's scrape: `Authorization: Bearer <token>` of a user who may see the dashboard."""

    permission_classes = [CanViewDashboard]

    def get(self, request):
        return HttpResponse(prometheus.metrics_text(), content_type=CONTENT_TYPE_LATEST)
