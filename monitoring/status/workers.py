"""The workers as /api/monitoring/workers (the seed's WorkerStatus) and the Workers card show them."""

from __future__ import annotations

from typing import Any

import redis
from django.urls import reverse

from chlops.exceptions import ServiceUnavailable
from monitoring import selectors
from monitoring.health import selectors as health
from monitoring.metrics import clock, reading, series
from monitoring.metrics.ranges import RANGES, UNAVAILABLE, MetricsUnavailable
from monitoring.models import WorkerState
from operations import workers as control
from operations.models import Job, JobState

# Messages waiting above which the queue is too long: drawn on the chart. The alerts issue replaces
# this constant with its rule's threshold.
QUEUE_ALERT_THRESHOLD = 100
RECENT_FAILED = 10


def worker_status(range_name: str) -> dict[str, Any]:
    """active_workers, worker_health, queue_length, processing_rate, failed_tasks; the queue's length over
    the range with the alert threshold, and the latest failed jobs."""
    rows = selectors.worker_list()
    live = [row for row in rows if row.state != WorkerState.OFFLINE]
    try:
        queue_length = sum(control.queue_depths().values())
    except ServiceUnavailable:
        queue_length = None  # the broker is down: no length is better than a made-up zero
    return {
        "active_workers": len(live),
        "worker_health": health.health_overview().module("workers").status,
        "queue_length": queue_length,
        "processing_rate": selectors.rate_per_minute(),
        "failed_tasks": sum(row.failed for row in live),
        "queue_alert_threshold": QUEUE_ALERT_THRESHOLD,
        "queue_series": queue_series(range_name),
        "recent_failed": recent_failed(),
    }


def queue_series(range_name: str) -> dict[str, Any]:
    seconds, width, _ = RANGES[range_name]
    until = clock.now()
    try:
        points = reading.gauge_points(series.QUEUE_LENGTH.name, since=until - seconds, until=until + 1, width=width)
    except redis.RedisError:
        raise MetricsUnavailable(UNAVAILABLE) from None
    return {
        "range": range_name,
        "resolution_seconds": width,
        "t": [at for at, _, _ in points],
        "max": [high for _, _, high in points],
        "last": [last for _, last, _ in points],
    }


def recent_failed() -> list[dict[str, Any]]:
    jobs = Job.objects.filter(state=JobState.FAILED).order_by("-finished_at", "-id")[:RECENT_FAILED]
    return [
        {
            "id": job.pk,
            "type": job.type,
            "error": job.error,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "url": reverse("ops:job-detail", args=[job.pk]),
        }
        for job in jobs
    ]
