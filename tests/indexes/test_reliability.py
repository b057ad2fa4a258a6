from __future__ import annotations

import pytest

from indexes.models import Entry
from operations import queueing, services
from operations.models import ACTIVE_STATES, Job, JobState
from tests.conftest import wait_for
from tests.gates import advance, hold, wait_until_held
from tests.indexes.factories import write_big_csv

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 100_000
BATCH = 500


def finished(job: Job) -> bool:
    job.refresh_from_db()
    return job.is_finished


def reaped(job: Job) -> bool:
    services.jobs_reap_lost()
    return finished(job)


class WorkerKilledTests:
    def test_kill_9_mid_import_leaves_whole_batches_and_a_free_lock(self, spawn_worker, worker, operator, settings):
        settings.IMPORT_DIR.mkdir(parents=True, exist_ok=True)
        write_big_csv(settings.IMPORT_DIR / "big.csv", rows=ROWS)
        doomed = spawn_worker("killme", queues="killme", concurrency=1, env={"CHLOPS_IMPORT_BATCH_SIZE": str(BATCH)})
        # The shared worker also consumes "jobs"; a queue of its own makes sure the doomed worker runs this one.
        params = services.job_params_clean(type="import", params={"path": "big.csv"})
        job = Job.objects.create(
            type="import", params=params, lock_key="import", queue="killme", requested_by=operator, source="cli"
        )

        def importing() -> bool:
            job.refresh_from_db()
            return job.state == JobState.RUNNING and job.done > 0 and Entry.objects.count() >= BATCH

        with hold(job=job.pk, phase="importing"):
            queueing.send_run_job(job_id=job.pk, queue="killme")
            wait_until_held(job.pk)
            advance(job.pk, until=importing)  # a checkpoint at a time, until the first batch is committed
            wait_until_held(job.pk)
            doomed.kill()

        committed = Entry.objects.count()
        assert 0 < committed < ROWS
        assert committed % BATCH == 0
        wait_for(lambda: reaped(job), timeout=30, interval=0.25, message="the reaper to fail the lost job")
        assert job.state == JobState.FAILED
        assert "worker lost" in job.error
        assert not Job.objects.filter(lock_key="import", state__in=ACTIVE_STATES).exists()

        again = services.job_start(type="import", params={"path": "big.csv"}, actor=operator, source="cli")
        wait_for(lambda: finished(again), timeout=120, message="the next import to finish")
        assert again.state == JobState.SUCCEEDED
        assert (again.result["created"], again.result["unchanged"]) == (ROWS - committed, committed)
        assert Entry.objects.count() == ROWS
