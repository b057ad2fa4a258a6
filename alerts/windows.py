"""Maintenance windows: a job that disturbs what alerts watch silences those alerts while it runs (DESIGN §11).

A window is a Silence linked to its job (and the job's correlation id), opened when the job starts
running and ended when it ends, whatever its end: the runner's, a cancel's, or the reaper's for a
lost worker. operations reports those transitions (operations.observers); this app registers here.
Which jobs open windows, and over what, is this app's knowledge, kept in one table below.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from alerts import silences
from alerts.models import Metric, Silence
from operations.models import Job, JobState
from operations.observers import JobTransition

# What each maintenance job silences: draining empties the queues on purpose; a reindex or a restore
# takes the index away, and search with it, for a while.
WINDOWS: dict[str, tuple[silences.Matchers, ...]] = {
    "drain": (silences.Matchers(metric=Metric.QUEUE_LENGTH),),
    "reindex": (silences.Matchers(module="index"), silences.Matchers(module="search")),
    "restore": (silences.Matchers(module="index"), silences.Matchers(module="search")),
}
# A window lasts until its job ends; this is only its bound if nothing ever ended it (the reaper does).
LONGEST = timedelta(days=silences.MAX_DAYS)
SOURCE = "system"


def job_transitioned(transition: JobTransition) -> None:
    matchers = WINDOWS.get(transition.type)
    if not matchers:
        return
    if transition.state == JobState.RUNNING:
        window_open(job=Job.objects.get(pk=transition.job_id), matchers=matchers)
    else:
        window_close(job_id=transition.job_id)


def window_open(*, job: Job, matchers: tuple[silences.Matchers, ...]) -> list[Silence]:
    """Silence what the job disturbs, from now until it ends."""
    now = timezone.now()
    return [
        silences.silence_create(
            matchers=m,
            starts_at=now,
            ends_at=now + LONGEST,
            comment=f"Maintenance window of {job.type} job #{job.pk}",
            actor=job.requested_by,
            source=SOURCE,
            job=job,
        )
        for m in matchers
    ]


def window_close(*, job_id: int) -> int:
    """End the job's open windows; return how many there were."""
    now = timezone.now()
    open_windows = list(Silence.objects.filter(job_id=job_id, ends_at__gt=now))
    for silence in open_windows:
        try:
            silences.silence_end(silence=silence, source=SOURCE)
        except silences.SilenceEnded:
            pass  # ended a moment ago by someone else: closed all the same
    return len(open_windows)
