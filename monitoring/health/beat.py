"""celery beat's pulse: every task beat sends is noted in Redis, so the scheduler check knows it is alive.

Connected in MonitoringConfig.ready(): `beat_init` marks the process as beat; `before_task_publish`
then fires for each task it sends (every few seconds: the embed dispatch, the health round…).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis

from chlops.redis_clients import redis_client

logger = logging.getLogger(__name__)

BEAT_KEY = "chlops:health:beat-sent"
_in_beat: list[bool] = []


def on_beat_init(**_: Any) -> None:
    _in_beat[:] = [True]


def on_task_published(**_: Any) -> None:
    if not _in_beat:
        return
    try:
        redis_client(timeout=0.5).set(BEAT_KEY, repr(time.time()))
    except redis.RedisError:
        logger.debug("beat's pulse not noted: Redis is not answering")


def beat_last_sent() -> float | None:
    """When beat last sent a task (seconds since the epoch), or None if it never did since Redis started."""
    value = redis_client(timeout=0.5).get(BEAT_KEY)
    return float(value) if value else None
