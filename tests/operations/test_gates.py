from __future__ import annotations

import threading

import pytest
from django.db import connection

from operations import queueing, services
from operations.models import Job, JobState
from operations.runner import RunContext
from tests.conftest import wait_for
from tests.gates import hold, is_held, step, wait_until_held

pytestmark = pytest.mark.django_db(transaction=True)


def finished(job: Job) -> bool:
    job.refresh_from_db()
    return job.is_finished


class GateTests:
    def test_a_held_job_parks_at_each_checkpoint_until_the_test_lets_it_go(self, worker, operator):
        with hold("canary"):
            job = services.job_start(type="canary", params={"seconds": 0.3}, actor=operator, source="cli")
            assert wait_until_held(job.pk) == "ticking"
            job.refresh_from_db()
            assert (job.state, job.done) == (JobState.RUNNING, 0)
            step(job.pk)
            job.refresh_from_db()
            assert (job.state, job.done) == (JobState.RUNNING, 1)  # one tick, and the row shows it
        wait_for(lambda: finished(job), message="the canary to run on once the gate opens")
        assert job.state == JobState.SUCCEEDED and not is_held(job.pk)

    def test_a_hold_parks_only_once_the_job_has_done_enough_in_its_phase(self, worker, operator):
        with hold("canary", phase="ticking", done=3):
            job = services.job_start(type="canary", params={"seconds": 0.3}, actor=operator, source="cli")
            wait_until_held(job.pk)
            job.refresh_from_db()
            assert job.done == 3
        wait_for(lambda: finished(job), message="the canary to finish")
        assert job.state == JobState.SUCCEEDED

    def test_a_hold_on_another_phase_or_another_job_lets_the_job_run(self, worker, operator):
        with hold("canary", phase="nowhere"), hold(job=10**9):
            job = services.job_start(type="canary", params={"seconds": 0.1}, actor=operator, source="cli")
            wait_for(lambda: finished(job), message="the canary to finish")
        assert job.state == JobState.SUCCEEDED

    def test_a_hold_on_one_job_parks_that_job(self, worker, operator):
        job = Job.objects.create(type="canary", params={"seconds": 0.1}, lock_key="canary", requested_by=operator)
        with hold(job=job.pk):
            queueing.send_run_job(job_id=job.pk, queue="jobs")
            assert wait_until_held(job.pk) == "ticking"
        wait_for(lambda: finished(job), message="the canary to finish")
        assert job.state == JobState.SUCCEEDED

    def test_with_gates_off_a_checkpoint_ignores_holds(self, settings):
        settings.CHLOPS_TEST_GATES = False
        job = Job.objects.create(type="canary", state=JobState.RUNNING, lock_key="canary")
        passed = threading.Event()

        def checkpoint() -> None:
            try:
                RunContext(job).checkpoint()
                passed.set()
            finally:
                connection.close()

        with hold("canary"):
            thread = threading.Thread(target=checkpoint, daemon=True)
            thread.start()
            thread.join(10)
        assert passed.is_set() and not is_held(job.pk)
