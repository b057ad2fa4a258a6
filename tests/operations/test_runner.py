from __future__ import annotations

import pytest

from operations import services
from operations.models import Job, JobState
from tests.conftest import wait_for
from tests.gates import hold, wait_until_held

pytestmark = pytest.mark.django_db(transaction=True)


def job_state(job: Job) -> str:
    job.refresh_from_db()
    return job.state


class CanaryTests:
    def test_canary_runs_to_success_on_a_real_worker(self, worker, operator):
        job = services.job_start(type="canary", params={"seconds": 0.3}, actor=operator, source="cli")
        wait_for(lambda: job_state(job) == JobState.SUCCEEDED, timeout=30, message="canary to succeed")
        assert job.done == job.total
        assert [h.state for h in job.history.filter(kind="transition")] == ["queued", "running", "succeeded"]

    def test_cancel_stops_a_running_canary(self, worker, operator):
        # How fast is bench/job_engine.py's business (cancel p95 45 ms); here that it stops before its end.
        with hold("canary"):
            job = services.job_start(type="canary", params={"seconds": 30}, actor=operator, source="cli")
            wait_until_held(job.pk)
            assert job_state(job) == JobState.RUNNING
            services.job_cancel(job=job, actor=operator, source="cli")
        wait_for(lambda: job_state(job) == JobState.CANCELLED, timeout=15, message="cancel to land")
        assert job.done < job.total

    def test_second_start_under_the_same_lock_is_refused(self, operator):
        with hold("canary"):  # should a worker take it, it still cannot finish before the second start
            first = services.job_start(type="canary", params={"seconds": 30}, actor=operator, source="cli")
            with pytest.raises(services.LockHeld) as raised:
                services.job_start(type="canary", params={}, actor=operator, source="cli")
        assert raised.value.conflict.pk == first.pk
        assert "Already running" in raised.value.message
