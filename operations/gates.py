"""Test gates: park a job at a checkpoint until a test lets it go. On only with CHLOPS_TEST_GATES.

A test that acts on a job mid-run (cancels it, kills its worker, watches its card) holds the job's
type or id here. The worker parks at the next checkpoint that matches the hold, marks itself parked,
and waits until the test releases it (one checkpoint) or opens the gate. So no test depends on
which of two processes is faster. The runner calls in here only when the setting is on.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING

import redis

from chlops.redis_clients import redis_client

if TYPE_CHECKING:
    from operations.models import Job

logger = logging.getLogger(__name__)

PREFIX = "chlops:gates"
PARK_POLL = 0.01  # seconds between looks at the gate while parked
PARK_LIMIT = 600  # seconds: a gate a test forgot to open lets its job go after this


def hold_key(*, job_type: str = "", job_id: int | None = None) -> str:
    """The Redis key of a hold on one job, or on every job of a type."""
    return f"{PREFIX}:hold:job:{job_id}" if job_id is not None else f"{PREFIX}:hold:type:{job_type}"


def parked_key(job_id: int) -> str:
    """The Redis key that says a job is parked, holding the phase it is parked in."""
    return f"{PREFIX}:parked:{job_id}"


def hold_rule(*, phase: str | None = None, done: int = 0) -> str:
    """The value of a hold: park in `phase` (any phase when None) once the job has done `done`."""
    return json.dumps({"phase": phase, "done": done})


def gate_holds(job: Job) -> bool:
    """Whether a test holds this job here, at its current phase and progress."""
    try:
        rules = redis_client().mget(hold_key(job_type=job.type), hold_key(job_id=job.pk))
    except redis.RedisError:
        return False  # a gate is a test's aid, never a reason for a job to fail
    for raw in rules:
        if raw is None:
            continue
        rule = json.loads(raw)
        if rule["phase"] in (None, job.phase) and job.done >= rule["done"]:
            return True
    return False


def gate_park(job: Job) -> None:
    """Mark the job parked and wait until the test releases it or the hold ends."""
    client = redis_client()
    key = parked_key(job.pk)
    deadline = time.monotonic() + PARK_LIMIT
    try:
        client.set(key, job.phase, ex=PARK_LIMIT)
        # The test releases the job by deleting `key`; only this loop ever sets it.
        while client.exists(key) and gate_holds(job):
            if time.monotonic() > deadline:
                logger.warning("job %s was parked at a test gate for %s s; letting it go", job.pk, PARK_LIMIT)
                break
            time.sleep(PARK_POLL)
        client.delete(key)
    except redis.RedisError:
        logger.warning("job %s left its test gate: Redis did not answer", job.pk)
