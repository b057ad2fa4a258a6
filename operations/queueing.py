"""The thin edge between jobs and the Celery broker."""

from __future__ import annotations

import redis

from chlops.celery import app
from chlops.exceptions import ServiceUnavailable
from chlops.redis_clients import redis_client

RUN_JOB = "operations.tasks.run_job"


def broker_available() -> bool:
    """Whether Redis (broker, channel layer and cache at once) answers PING within a second."""
    try:
        return bool(redis_client().ping())
    except (redis.RedisError, OSError):
        return False


def ensure_broker_available() -> None:
    """Raise ServiceUnavailable with a sentence when Redis, the broker, does not answer."""
    if not broker_available():
        raise ServiceUnavailable(
            "The job queue (Redis) is not answering, so the job was not started. "
            "Check that Redis is running, then try again."
        ) from None


def send_run_job(*, job_id: int, queue: str) -> None:
    # By name: the task module imports the runner and services, which import this edge.
    app.send_task(RUN_JOB, args=[job_id], queue=queue, retry=False, ignore_result=True)
