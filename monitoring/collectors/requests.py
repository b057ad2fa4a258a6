"""Time every HTTP request and count it under the module it belongs to (never under its raw path).

Sync and async alike, so Django runs it in whichever mode the stack is in under daphne without a
thread hop. It only adds to the process's in-memory tally; the flusher thread does the sending.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponseBase

from monitoring.metrics import RECORDER, series

# URL names of other apps' views, by the module whose work they are; anything else is the web's.
ROUTES = {
    "api-jobs": "jobs",
    "api-job": "jobs",
    "api-job-cancel": "jobs",
    "api-job-retry": "jobs",
    "api-export-download": "jobs",
    "api-uploads": "ingestion",
    "api-workers": "workers",
    "api-workers-pause": "workers",
    "api-workers-resume": "workers",
    "api-queues": "broker",
    "api-index": "index",
    "api-snapshots": "index",
    "api-snapshot": "index",
    "api-snapshot-upload": "index",
    "api-snapshot-download": "index",
    "api-snapshot-restore": "index",
    "api-search": "search",
    "ops-index-reindex": "index",
    "ops-index-search": "search",
    "ops-snapshot-create": "index",
    "ops-snapshot-upload": "index",
    "ops-snapshot-restore": "index",
    "ops-snapshot-delete": "index",
    "ops-embedding-retry": "embeddings",
    "ops-embedding-run": "embeddings",
    "ops:job-detail": "jobs",
    "ops:job-detail-partial": "jobs",
    "ops:job-cancel": "jobs",
    "ops:job-retry": "jobs",
    "ops:run": "jobs",
    "ops:workers-control": "workers",
    "api-monitoring-database": "database",
    "api-monitoring-db-pool": "database",
    "api-monitoring-cache": "cache",
    "api-monitoring-workers": "workers",
    "api-monitoring-cache-clear": "cache",
    "monitoring:cache-clear": "cache",
}
# The admin's own pages, by the app they show.
PREFIXES = (
    ("/admin/audit/", "audit"),
    ("/admin/operations/", "jobs"),
    ("/admin/monitoring/", "workers"),
    ("/admin/django_celery_beat/", "scheduler"),
    ("/admin/indexes/", "index"),
)
NOT_COUNTED = ("/metrics",)  # what Prometheus scrapes is not the traffic it measures


def module_of(request: HttpRequest) -> str:
    """The module a request belongs to, from its URL name, namespace or path prefix."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.url_name:
        module = ROUTES.get(match.view_name)
        if module:
            return module
    path = request.path_info
    return next((module for prefix, module in PREFIXES if path.startswith(prefix)), "web")


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else series.OTHER


class RequestMetricsMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        if not settings.CHLOPS_METRICS:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        response = self.get_response(request)
        self.record(request, response, time.perf_counter() - started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = await self.get_response(request)
        self.record(request, response, time.perf_counter() - started)
        return response

    def record(self, request: HttpRequest, response: HttpResponseBase, seconds: float) -> None:
        path = request.path_info
        if path.startswith(settings.STATIC_URL) or path in NOT_COUNTED:
            return
        status = status_class(response.status_code)
        labels = (request.method or "", status)
        RECORDER.observe(series.HTTP, module_of(request), labels, seconds, error=status == "5xx")
