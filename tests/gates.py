"""Hold a job at a checkpoint from a test, act on it mid-run, then let it go (worker side: operations/gates.py).

    with hold("ingest", phase="writing"):
        job = services.job_start(...)
        wait_until_held(job.pk)            # parked at its first checkpoint in "writing"
        advance(job.pk, until=lambda: Entry.objects.exists())
        services.job_cancel(job=job, ...)
    # the gate is open: the job goes on, and the cancel lands at the checkpoint where it was parked

The workers the tests start run with CHLOPS_TEST_GATES=1 (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from chlops.redis_clients import redis_client
from operations.gates import hold_key, hold_rule, parked_key
from operations.models import FINISHED_STATES, Job
from tests.conftest import wait_for


@contextmanager
def hold(job_type: str = "", *, job: int | None = None, phase: str | None = None, done: int = 0) -> Iterator[None]:
    """Park every job of `job_type`, or the one job with id `job`, at its checkpoints (in `phase`, once it has
    done `done`) until released; on exit the gate opens and the jobs run on."""
    assert bool(job_type) != (job is not None), "hold a job type or one job id"
    key = hold_key(job_type=job_type, job_id=job)
    redis_client().set(key, hold_rule(phase=phase, done=done))
    try:
        yield
    finally:
        redis_client().delete(key)


def wait_until_held(job_id: int, *, timeout: float = 60) -> str:
    """Wait until the job is parked at a gate and return the phase it is parked in."""

    def parked() -> tuple[str] | None:
        phase = redis_client().get(parked_key(job_id))
        if phase is not None:
            return (phase.decode(),)
        if Job.objects.filter(pk=job_id, state__in=FINISHED_STATES).exists():
            job = Job.objects.get(pk=job_id)
            pytest.fail(f"job {job_id} ended ({job.state}: {job.error}) without parking at the gate")
        return None

    return wait_for(parked, timeout=timeout, interval=0.02, message=f"job {job_id} to park at the gate")[0]


def is_held(job_id: int) -> bool:
    """Whether the job is parked at a gate now."""
    return bool(redis_client().exists(parked_key(job_id)))


def release(job_id: int) -> None:
    """Let a parked job go on to its next checkpoint, where it parks again while the hold lasts."""
    redis_client().delete(parked_key(job_id))


def step(job_id: int, *, timeout: float = 60) -> str:
    """Let a parked job run to its next checkpoint; return the phase it is parked in there."""
    release(job_id)
    return wait_until_held(job_id, timeout=timeout)


def advance(job_id: int, *, until: Callable[[], object], timeout: float = 60) -> None:
    """Let a held job run, one checkpoint at a time, until `until()` is true: it cannot run past the hold."""

    def reached() -> bool:
        if until():
            return True
        if is_held(job_id):
            release(job_id)
        return False

    wait_for(reached, timeout=timeout, interval=0.02, message=f"job {job_id} to advance far enough")
