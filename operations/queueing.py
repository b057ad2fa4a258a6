"""The thin edge between jobs and the Celery broker."""

from __future__ import annotations

import redis
from django.conf import settings

from chlops.exceptions import ServiceUnavailable


def broker_available() -> bool:
    """Whether Redis (broker, channel layer and cache at once) answers PING within a second."""
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
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
    from operations.tasks import run_job

    run_job.apply_async(args=[job_id], queue=queue, retry=False)
