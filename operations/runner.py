"""Run one job: claim it, hand the service a context, and record how it ended."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from chlops.exceptions import ChlopsError
from operations import broadcasts, gates, observers, registry
from operations.models import HistoryKind, Job, JobHistory, JobState

logger = logging.getLogger(__name__)

# Rate smoothing: weight of the newest sample in the exponential moving average.
RATE_ALPHA = 0.3
CANCEL_POLL_EVERY = 0.1  # seconds


class JobCancelled(Exception):
    """Raised by checkpoint() when an operator asked the job to stop."""


class RunContext:
    """All that a job's service sees of the engine."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self._last_write = 0.0
        self._last_poll = 0.0
        self._rate_sample: tuple[float, int] | None = None

    @property
    def correlation_id(self):
        return self.job.correlation_id

    def progress(self, done: int, total: int | None = None, *, phase: str | None = None) -> None:
        """Record progress; writes are throttled, phase changes never are."""
        now = time.monotonic()
        phase_changed = phase is not None and phase != self.job.phase
        self._update_rate(now, done)
        self.job.done, self.job.total = done, total
        if phase_changed:
            self.job.phase = phase
        if not phase_changed and now - self._last_write < settings.CHLOPS_PROGRESS_INTERVAL:
            return
        self._last_write = now
        self._save(phase_changed=phase_changed)

    def _save(self, *, phase_changed: bool) -> None:
        job = self.job
        Job.objects.filter(pk=job.pk).update(
            done=job.done, total=job.total, phase=job.phase, rate=job.rate, progress_at=timezone.now()
        )
        if phase_changed:
            JobHistory.objects.create(job=job, kind=HistoryKind.PHASE, phase=job.phase, state=job.state)
        broadcasts.job_changed(job.pk, progress_only=not phase_changed)

    def checkpoint(self) -> None:
        """Raise JobCancelled if cancellation was requested."""
        if settings.CHLOPS_TEST_GATES and gates.gate_holds(self.job):
            self._park()
        now = time.monotonic()
        if now - self._last_poll < CANCEL_POLL_EVERY:
            return
        self._last_poll = now
        state = Job.objects.filter(pk=self.job.pk).values_list("state", flat=True).first()
        if state == JobState.CANCELLING:
            raise JobCancelled
        if state != JobState.RUNNING:
            # The reaper declared this worker lost; stop without writing anything more.
            raise JobCancelled

    def _park(self) -> None:
        self._save(phase_changed=False)  # the row shows all the job has done, for the test to look at
        gates.gate_park(self.job)
        self._last_poll = 0.0  # look at the state now: a cancel made while parked lands at this checkpoint

    def log(self, message: str, **data: Any) -> None:
        JobHistory.objects.create(job=self.job, kind=HistoryKind.LOG, message=message, data=data, state=self.job.state)

    def _update_rate(self, now: float, done: int) -> None:
        if self._rate_sample is None:
            self._rate_sample = (now, done)
            return
        then, before = self._rate_sample
        elapsed = now - then
        if elapsed < 0.5:
            return
        sample = (done - before) / elapsed
        self._rate_sample = (now, done)
        rate = self.job.rate
        self.job.rate = sample if rate is None else RATE_ALPHA * sample + (1 - RATE_ALPHA) * rate


def job_execute(*, job_id: int, worker: str = "") -> None:
    """Run a queued job to its end; a job that is not queued any more is left alone."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(
        state=JobState.RUNNING, started_at=now, heartbeat_at=now, worker=worker or socket.gethostname()
    )
    if not claimed:
        logger.info("job %s is not queued any more; nothing to do", job_id)
        return
    job = Job.objects.get(pk=job_id)
    JobHistory.objects.create(job=job, kind=HistoryKind.TRANSITION, state=JobState.RUNNING)
    observers.job_transition(job.pk, type=job.type, state=JobState.RUNNING)
    broadcasts.job_changed(job.pk)
    ctx = RunContext(job)
    working = observers.current_work.set(f"job:{job.type}")
    beating = threading.Event()
    threading.Thread(target=_heartbeat, args=(job.pk, beating), name=f"job-{job.pk}-heartbeat", daemon=True).start()
    try:
        job_type = registry.get(job.type)
        result = job_type.run(ctx, job.params)
    except JobCancelled:
        _finish(job, JobState.CANCELLED, from_states=[JobState.CANCELLING], result=None, error="")
    except ChlopsError as exc:
        _finish(job, JobState.FAILED, result=None, error=exc.message)
    except Exception as exc:  # noqa: BLE001 — any failure of the work ends the job, with its reason
        logger.exception("job %s failed", job.pk)
        _finish(job, JobState.FAILED, result=None, error=f"Unexpected error: {exc.__class__.__name__}: {exc}")
    else:
        _finish(job, JobState.SUCCEEDED, result=result or {}, error="")
    finally:
        beating.set()
        observers.current_work.reset(working)


def heartbeat_interval() -> float:
    # Several beats fit in the staleness window, so one slow write never makes a live job look lost.
    return min(10.0, max(0.5, settings.CHLOPS_JOB_STALE_SECONDS / 6))


def _heartbeat(job_id: int, stop: threading.Event) -> None:
    """Touch the job's heartbeat while its process lives, however long one step of the work takes.

    It dies with the process, which is what the reaper looks for: a worker lost, not a slow job.
    """
    try:
        while not stop.wait(heartbeat_interval()):
            Job.objects.filter(pk=job_id, state__in=[JobState.RUNNING, JobState.CANCELLING]).update(
                heartbeat_at=timezone.now()
            )
    finally:
        connection.close()


def _finish(
    job: Job,
    state: str,
    *,
    result: dict | None,
    error: str,
    from_states: list[str] | None = None,
) -> None:
    from_states = from_states or [JobState.RUNNING, JobState.CANCELLING]
    fields: dict[str, Any] = {"state": state, "finished_at": timezone.now(), "result": result, "error": error}
    if state == JobState.SUCCEEDED:
        fields["done"] = F("total") if job.total else job.done
    with transaction.atomic():  # the end and its history row are seen together, never one without the other
        ended = Job.objects.filter(pk=job.pk, state__in=from_states).update(**fields)
        if not ended:
            return  # the reaper (or a cancel of a queued job) got there first
        JobHistory.objects.create(job=job, kind=HistoryKind.TRANSITION, state=state, message=error)
    observers.job_transition(job.pk, type=job.type, state=state)
    broadcasts.job_changed(job.pk)
    ran = (fields["finished_at"] - job.started_at).total_seconds() if job.started_at else 0.0
    observers.observe("job", key=job.type, outcome=state, seconds=max(0.0, ran))
