"""Celery tasks: interfaces that load by id and call one service."""

from __future__ import annotations

from celery import shared_task

from operations import broadcasts, queueing, runner, services


@shared_task(bind=True, name=queueing.RUN_JOB, ignore_result=True)
def run_job(self, job_id: int) -> None:
    runner.job_execute(job_id=job_id, worker=self.request.hostname or "")
    # A pool process may be recycled as soon as its task returns: the job's last pushes go out first.
    broadcasts.publish_flush()


@shared_task(name="operations.tasks.reap_lost_jobs", ignore_result=True)
def reap_lost_jobs() -> list[int]:
    return services.jobs_reap_lost()


@shared_task(name="operations.tasks.ping")
def ping() -> str:
    """Answer at once: the bare round trip through the broker, for health checks and benchmarks."""
    return "pong"
