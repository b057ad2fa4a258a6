"""Read jobs."""

from __future__ import annotations

from django.db.models import Max, QuerySet

from operations import registry
from operations.models import Job
from operations.registry import JobType


def job_list(*, state: str | None = None, type: str | None = None) -> QuerySet[Job]:
    qs = Job.objects.select_related("requested_by").order_by("-id")
    if state:
        qs = qs.filter(state=state)
    if type:
        qs = qs.filter(type=type)
    return qs


def job_get(*, job_id: int) -> Job:
    return Job.objects.select_related("requested_by", "retry_of").get(pk=job_id)


def job_latest_per_type() -> list[tuple[JobType, Job | None]]:
    """The latest job of each registered type, for the dashboard card, in one query."""
    newest = Job.objects.values("type").annotate(newest=Max("id")).values("newest")
    by_type = {job.type: job for job in Job.objects.select_related("requested_by").filter(pk__in=newest)}
    return [(job_type, by_type.get(job_type.name)) for job_type in registry.all_types()]
