"""Start, cancel, retry and reap jobs."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import Outcome
from audit.services import audit_record
from chlops.exceptions import ChlopsError, ServiceUnavailable
from operations import broadcasts, observers, queueing, registry, selectors
from operations.models import ACTIVE_STATES, HistoryKind, Job, JobHistory, JobState

logger = logging.getLogger(__name__)

WORKER_LOST = "worker lost: no heartbeat from the worker running this job"


class JobParamsInvalid(ChlopsError):
    def __init__(self, message: str, fields: dict[str, list[str]]) -> None:
        super().__init__(message, fields=fields)
        self.fields = fields


class LockHeld(ChlopsError):
    status = 409
    exit_code = 4

    def __init__(self, conflict: Job) -> None:
        super().__init__(f"Already running: {conflict} ({conflict.state}). Wait for it to finish or cancel it.")
        self.conflict = conflict


class Draining(ServiceUnavailable):
    pass


def ensure_not_draining() -> None:
    """Raise Draining (503) while a drain job runs; new jobs and embedding batches call this."""
    drain = selectors.job_drain_active()
    if drain is not None:
        raise Draining(f"draining: the workers are being drained by {drain}; new work is refused until it ends or the workers are resumed.")


class JobNotCancellable(ChlopsError):
    status = 409


class JobNotRetryable(ChlopsError):
    status = 409


def job_params_clean(*, type: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate parameters with the type's form; raise JobParamsInvalid naming each bad field."""
    job_type = registry.get(type)
    if not isinstance(params, dict):
        raise JobParamsInvalid("Parameters must be an object of names and values.", {})
    form = job_type.form(data=params)
    if not form.is_valid():
        fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        detail = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
        raise JobParamsInvalid(f"Invalid parameters for {type}: {detail}", fields)
    return {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}


def job_start(
    *,
    type: str,
    params: dict[str, Any],
    actor: Any = None,
    source: str,
    retry_of: Job | None = None,
    correlation_id: uuid.UUID | None = None,
) -> Job:
    """Create a queued job and hand it to Celery after commit; raise LockHeld or ServiceUnavailable."""
    job_type = registry.get(type)
    cleaned = job_params_clean(type=type, params=params)
    queueing.ensure_broker_available()
    if type != "drain":
        ensure_not_draining()
    lock_key = job_type.lock_for(cleaned)
    for attempt in range(3):
        try:
            job = _job_create(
                type=type, params=cleaned, job_type=job_type, lock_key=lock_key, actor=actor, source=source,
                retry_of=retry_of, correlation_id=correlation_id,
            )
            break
        except IntegrityError:
            conflict = Job.objects.filter(lock_key=lock_key, state__in=ACTIVE_STATES).first()
            if conflict is None and attempt < 2:
                continue  # the holder finished between our insert and this look-up: the lock is free now
            if conflict is None:
                raise
            audit_record(
                action="job.start",
                actor=actor,
                source=source,
                target=type,
                outcome=Outcome.FAILURE,
                details={"type": type, "params": cleaned, "error": "lock held", "conflict": conflict.pk},
            )
            raise LockHeld(conflict) from None
    broadcasts.job_changed(job.pk)
    return job


def _job_create(*, type, params, job_type, lock_key, actor, source, retry_of, correlation_id) -> Job:
    with transaction.atomic():
        job = Job.objects.create(
            type=type,
            params=params,
            lock_key=lock_key,
            queue=job_type.queue,
            requested_by=_user(actor),
            source=source,
            retry_of=retry_of,
            correlation_id=correlation_id or uuid.uuid4(),
        )
        JobHistory.objects.create(job=job, kind=HistoryKind.TRANSITION, state=JobState.QUEUED, actor=job.requested_by)
        audit_record(
            action="job.retry" if retry_of else "job.start",
            actor=actor,
            source=source,
            target=str(job),
            details={"type": type, "params": params, "job_id": job.pk, "retry_of": retry_of.pk if retry_of else None},
            correlation_id=job.correlation_id,
        )
        transaction.on_commit(lambda: _enqueue(job))
    return job


def _enqueue(job: Job) -> None:
    try:
        queueing.send_run_job(job_id=job.pk, queue=job.queue)
    except Exception as exc:  # noqa: BLE001 — the broker went away after the check; fail the job, free its lock
        logger.exception("could not queue job %s", job.pk)
        _force_state(job, JobState.FAILED, error=f"Could not hand the job to the queue: {exc}")


def job_cancel(*, job: Job, actor: Any = None, source: str) -> Job:
    """Cancel a queued job at once, or ask a running one to stop at its next checkpoint."""
    job_type = registry.get(job.type)
    now = timezone.now()
    if job.state == JobState.QUEUED and Job.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
        state=JobState.CANCELLED, cancel_requested_at=now, finished_at=now
    ):
        new_state = JobState.CANCELLED
    elif not job_type.cancellable:
        raise JobNotCancellable(f"{job} cannot be cancelled: {job_type.label} jobs run to the end.")
    elif Job.objects.filter(pk=job.pk, state=JobState.RUNNING).update(
        state=JobState.CANCELLING, cancel_requested_at=now
    ):
        new_state = JobState.CANCELLING
    else:
        job.refresh_from_db()
        raise JobNotCancellable(f"{job} has already {job.state if job.is_finished else 'been asked to stop'}; there is nothing to cancel.")
    JobHistory.objects.create(job=job, kind=HistoryKind.TRANSITION, state=new_state, actor=_user(actor))
    audit_record(action="job.cancel", actor=actor, source=source, target=str(job), details={"job_id": job.pk, "type": job.type}, correlation_id=job.correlation_id)
    broadcasts.job_changed(job.pk)
    job.refresh_from_db()
    return job


def job_retry(*, job: Job, actor: Any = None, source: str) -> Job:
    """Start a new job with the same parameters, linked to the one that failed."""
    if job.state not in (JobState.FAILED, JobState.CANCELLED):
        raise JobNotRetryable(f"{job} is {job.state}; only failed or cancelled jobs can be retried.")
    return job_start(type=job.type, params=job.params, actor=actor, source=source, retry_of=job, correlation_id=job.correlation_id)


def jobs_reap_lost() -> list[int]:
    """Fail running jobs whose worker stopped beating, which frees their locks."""
    cutoff = timezone.now() - timedelta(seconds=settings.CHLOPS_JOB_STALE_SECONDS)
    stale = list(
        Job.objects.filter(state__in=[JobState.RUNNING, JobState.CANCELLING], heartbeat_at__lt=cutoff).values_list("pk", flat=True)
    )
    reaped = [pk for pk in stale if _force_state(Job.objects.get(pk=pk), JobState.FAILED, error=WORKER_LOST, only_if_stale_before=cutoff)]
    return reaped


def jobs_fail_for_lost_worker(*, worker: str) -> list[int]:
    """Fail the running jobs of a worker known to be gone, which frees their locks."""
    running = Job.objects.filter(state__in=[JobState.RUNNING, JobState.CANCELLING], worker=worker)
    return [job.pk for job in running if _force_state(job, JobState.FAILED, error=f"worker lost: {worker} went offline")]


def _force_state(job: Job, state: str, *, error: str, only_if_stale_before=None) -> bool:
    qs = Job.objects.filter(pk=job.pk, state__in=ACTIVE_STATES)
    if only_if_stale_before is not None:
        qs = qs.filter(heartbeat_at__lt=only_if_stale_before)
    if not qs.update(state=state, error=error, finished_at=timezone.now()):
        return False
    JobHistory.objects.create(job=job, kind=HistoryKind.TRANSITION, state=state, message=error)
    observers.job_transition(job.pk, type=job.type, state=state)
    audit_record(action=f"job.{state}", source="system", target=str(job), outcome=Outcome.FAILURE, details={"job_id": job.pk, "error": error}, correlation_id=job.correlation_id)
    broadcasts.job_changed(job.pk)
    return True


def _user(actor: Any):
    return actor if getattr(actor, "is_authenticated", False) else None


__all__ = ["ServiceUnavailable", "job_start", "job_cancel", "job_retry", "jobs_reap_lost"]
