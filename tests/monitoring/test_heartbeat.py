from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from monitoring import selectors, services
from monitoring.models import WorkerHeartbeat
from operations import services as job_services
from operations.models import Job, JobState
from tests.conftest import only_worker, receive_containing, wait_for
from tests.gates import hold, wait_until_held
from tests.monitoring.helpers import hostname, wait_for_state, worker_row
from tests.operations.factories import job_create


def beat(name: str, **fields) -> WorkerHeartbeat:
    values = {
        "hostname": name,
        "kind": "cloud",
        "gpu": False,
        "queues": ["control", "embed", "jobs"],
        "configured_queues": ["control", "embed", "jobs"],
        "processed": 0,
        "failed": 0,
        "rate_per_minute": 0.0,
        "load": 0.1,
        "memory_bytes": 1 << 20,
        "version": "test",
        "pid": 1,
        "up_since": timezone.now(),
    }
    return services.heartbeat_record(**{**values, **fields})


@pytest.mark.django_db
class OfflineTests:
    def test_a_silent_worker_goes_offline_and_its_running_job_fails(self):
        beat("gone@host")
        WorkerHeartbeat.objects.filter(hostname="gone@host").update(last_seen=timezone.now() - timedelta(seconds=26))
        job = job_create(state=JobState.RUNNING, worker="gone@host", lock_key="canary")
        assert services.workers_mark_offline() == ["gone@host"]
        job.refresh_from_db()
        assert job.state == JobState.FAILED and job.error == "worker lost: gone@host went offline"
        assert WorkerHeartbeat.objects.get(hostname="gone@host").state == "offline"

    def test_offline_rows_age_out_after_a_day(self):
        beat("old@host")
        WorkerHeartbeat.objects.filter(hostname="old@host").update(
            state="offline", last_seen=timezone.now() - timedelta(days=1, seconds=1)
        )
        services.workers_mark_offline()
        assert not WorkerHeartbeat.objects.filter(hostname="old@host").exists()

    def test_only_a_visible_change_is_pushed(self):
        beat("same@host", processed=1)
        before = selectors.worker_visible(hostname="same@host")
        beat("same@host", processed=1, load=3.0, memory_bytes=5 << 20)  # load and memory alone do not push
        assert selectors.worker_visible(hostname="same@host") == before
        beat("same@host", processed=2)
        assert selectors.worker_visible(hostname="same@host") != before

    def test_a_worker_consuming_none_of_its_work_queues_is_paused(self):
        row = beat("p@host", queues=["control"])
        assert row.state == "paused"


@pytest.mark.django_db
class WorkersCardTests:
    def test_without_workers_the_card_says_how_to_start_one(self, operator):
        client = Client()
        client.force_login(operator)
        html = client.get("/admin/ops/partials/card/workers-card/").content.decode()
        assert "No worker is running" in html and "celery -A chlops worker -n extra@%h -Q jobs,embed,control" in html

    def test_with_only_offline_workers_the_card_says_none_is_running(self, operator):
        beat("dead@host")
        WorkerHeartbeat.objects.filter(hostname="dead@host").update(last_seen=timezone.now() - timedelta(minutes=5))
        client = Client()
        client.force_login(operator)
        html = client.get("/admin/ops/partials/card/workers-card/").content.decode()
        assert 'data-state="offline"' in html and "No worker is running" in html

    def test_reading_a_silent_worker_shows_it_offline_and_changes_nothing(self, operator):
        beat("mute@host")
        WorkerHeartbeat.objects.filter(hostname="mute@host").update(last_seen=timezone.now() - timedelta(minutes=5))
        job = job_create(state=JobState.RUNNING, worker="mute@host")
        client = Client()
        client.force_login(operator)
        html = client.get("/admin/ops/partials/card/workers-card/").content.decode()
        rows = client.get("/api/workers").json()
        assert 'data-state="offline"' in html
        assert [row["state"] for row in rows["results"] if row["hostname"] == "mute@host"] == ["offline"]
        assert WorkerHeartbeat.objects.get(hostname="mute@host").state == "online"
        assert Job.objects.get(pk=job.pk).state == JobState.RUNNING

    def test_the_card_shows_each_worker_with_its_beat_age(self, operator, auditor):
        beat("alpha@host", kind="edge", processed=7, failed=1)
        client = Client()
        client.force_login(operator)
        html = client.get("/admin/ops/partials/card/workers-card/").content.decode()
        assert 'data-worker="alpha@host"' in html and "edge" in html and "data-ops-age=" in html and "Pause" in html
        assert "No worker is running" not in html
        client.force_login(auditor)
        html = client.get("/admin/ops/partials/card/workers-card/").content.decode()
        assert 'data-worker="alpha@host"' in html and "Pause all" not in html


@pytest.mark.django_db(transaction=True)
class LiveWorkerTests:
    def test_a_worker_beats_its_kind_queues_and_gpu(self, spawn_worker):
        spawn_worker("edgy", env={"CHLOPS_WORKER_KIND": "edge"})
        row = wait_for_state("edgy", "online")
        assert row["kind"] == "edge" and row["queues"] == ["control", "embed", "jobs"]
        assert row["gpu"] in (True, False) and row["heartbeat_age_seconds"] < 10
        record = WorkerHeartbeat.objects.get(hostname=hostname("edgy"))
        assert record.memory_bytes > 0 and record.version.startswith("chlops")

    @override_settings(CHLOPS_WORKER_OFFLINE_SECONDS=6)
    def test_kill_9_shows_offline_fails_its_job_and_frees_the_lock(self, spawn_worker, worker):
        victim = spawn_worker("victim")
        wait_for_state("victim", "online")
        with only_worker("victim"), hold("canary"):  # running, and parked until its worker is gone
            job = job_services.job_start(type="canary", params={"seconds": 120}, source="cli")
            wait_until_held(job.pk)
            assert Job.objects.get(pk=job.pk).worker == hostname("victim")
            victim.kill()
        wait_for(
            lambda: (worker_row("victim") or {}).get("state") == "offline",
            timeout=30,
            interval=0.5,
            message="victim offline",
        )
        # Reading the card showed it offline and changed nothing; the beat task's sweep fails the job.
        assert Job.objects.get(pk=job.pk).state == JobState.RUNNING
        assert hostname("victim") in services.workers_mark_offline()
        job.refresh_from_db()
        assert job.state == JobState.FAILED and "worker lost" in job.error
        again = job_services.job_start(type="canary", params={"seconds": 0}, source="cli")  # the lock is free
        wait_for(lambda: Job.objects.get(pk=again.pk).is_finished, message="second canary to finish")

    def test_a_worker_restarted_under_its_name_fails_what_its_last_process_left_running(self, spawn_worker, worker):
        first = spawn_worker("phoenix")
        wait_for_state("phoenix", "online")
        with only_worker("phoenix"), hold("canary"):  # running, and parked until its worker is gone
            job = job_services.job_start(type="canary", params={"seconds": 120}, source="cli")
            wait_until_held(job.pk)
            first.kill()
        spawn_worker("phoenix")  # long before the old process would be declared offline
        wait_for(lambda: Job.objects.get(pk=job.pk).state == JobState.FAILED, timeout=10, message="job to fail")
        assert "worker lost" in Job.objects.get(pk=job.pk).error

    def test_processed_counts_come_from_the_worker(self, spawn_worker):
        spawn_worker("counter")
        wait_for_state("counter", "online")
        with only_worker("counter"):
            job = job_services.job_start(type="canary", params={"seconds": 0}, source="cli")
            wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, message="canary to finish")
            wait_for(
                lambda: (worker_row("counter") or {}).get("processed", 0) >= 1, timeout=15, message="count to arrive"
            )


def test_hostname_helper_matches_celery():
    assert hostname("x") == f"x@{socket.gethostname()}"


@pytest.mark.django_db(transaction=True)
class WorkersCardPushTests:
    def test_a_visible_change_is_pushed_to_dashboards(self, operator):
        from asgiref.sync import async_to_sync

        async_to_sync(self._run)(operator)

    async def _run(self, operator):
        from channels.db import database_sync_to_async
        from channels.testing import WebsocketCommunicator

        from chlops.asgi import application

        up = timezone.now()
        await database_sync_to_async(beat)("push@host", up_since=up)
        client = Client()
        await database_sync_to_async(client.force_login)(operator)
        headers = [
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
            (b"origin", b"http://localhost"),
            (b"host", b"localhost"),
        ]
        communicator = WebsocketCommunicator(application, "/ws/ops/?view=dashboard", headers=headers)
        assert (await communicator.connect(timeout=10))[0]
        try:
            assert 'data-worker="push@host"' in await communicator.receive_from(timeout=10)  # the snapshot
            await database_sync_to_async(beat)("push@host", up_since=up, queues=["control"])
            # Real workers of other tests may beat meanwhile: wait for the push that shows this change.
            pushed = await receive_containing(communicator, 'data-worker="push@host" data-state="paused"')
            assert 'id="workers-card"' in pushed
        finally:
            await communicator.disconnect()


@pytest.mark.django_db
class WorkerHeartbeatAdminTests:
    def test_superusers_see_heartbeats_read_only(self, superuser):
        beat("admin@host")
        client = Client()
        client.force_login(superuser)
        response = client.get("/admin/monitoring/workerheartbeat/")
        assert response.status_code == 200 and "admin@host" in response.content.decode()
        assert client.get("/admin/monitoring/workerheartbeat/add/").status_code == 403
