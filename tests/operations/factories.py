"""Jobs in a given state, written directly: for tests about reading and acting on existing jobs."""

from __future__ import annotations

from django.utils import timezone

from operations.models import FINISHED_STATES, Job, JobState


def job_create(*, state: str = JobState.QUEUED, type: str = "canary", params: dict | None = None, **fields) -> Job:
    now = timezone.now()
    defaults = {"started_at": now if state != JobState.QUEUED else None, "finished_at": now if state in FINISHED_STATES else None}
    if state not in FINISHED_STATES and state != JobState.QUEUED:
        defaults["heartbeat_at"] = now
    job = Job.objects.create(type=type, state=state, params=params or {}, **{**defaults, **fields})
    job.history.create(kind="transition", state=state)
    return job
