from __future__ import annotations

import json
import sys
import threading
import urllib.error
import urllib.request

import pytest
from django.db import connection
from django.test import Client

from chlops.redis_server import redis_server_start
from operations import services, tokens
from operations.models import ACTIVE_STATES, Job, JobState
from operations.tasks import run_job
from tests.conftest import Process, free_port, only_worker, wait_for
from tests.gates import hold, wait_until_held

pytestmark = pytest.mark.django_db(transaction=True)


class ConcurrentStartTests:
    def test_twenty_concurrent_starts_under_one_lock_accept_exactly_one(self, operator):
        barrier = threading.Barrier(20)
        outcomes: list[str] = []

        def start() -> None:
            try:
                barrier.wait()
                services.job_start(type="canary", params={"seconds": 30}, actor=operator, source="api")
                outcomes.append("accepted")
            except services.LockHeld:
                outcomes.append("409")
            finally:
                connection.close()  # each thread had its own connection

        threads = [threading.Thread(target=start) for _ in range(20)]
        with hold("canary"):  # a worker may take the accepted one; it stays active until counted
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert sorted(outcomes) == ["409"] * 19 + ["accepted"]
            assert Job.objects.filter(state__in=ACTIVE_STATES).count() == 1


class DoubleDeliveryTests:
    def test_run_job_delivered_twice_runs_once(self, worker, operator):
        with only_worker("test"):
            job = services.job_start(type="canary", params={"seconds": 0.2}, actor=operator, source="cli")
            run_job.apply_async(args=[job.pk], queue="jobs")  # a second delivery of the same job
            wait_for(lambda: Job.objects.get(pk=job.pk).state == JobState.SUCCEEDED, message="the job to succeed")
            wait_for(lambda: f"job {job.pk} is not queued any more" in worker.output(), message="the duplicate to be refused")
        assert job.history.filter(kind="transition", state=JobState.RUNNING).count() == 1


class LostWorkerTests:
    def test_killed_worker_fails_its_job_as_worker_lost_and_frees_the_lock(self, spawn_worker, operator):
        doomed = spawn_worker("doomed", concurrency=1)
        with only_worker("doomed"), hold("canary", done=1):
            job = services.job_start(type="canary", params={"seconds": 60}, actor=operator, source="cli")
            wait_until_held(job.pk)  # it has ticked, and parks until its worker is gone
            assert Job.objects.get(pk=job.pk).worker.startswith("doomed@")
            doomed.kill()
        wait_for(lambda: job.pk in services.jobs_reap_lost(), timeout=30, interval=0.5, message="the reaper to fail the job")
        job.refresh_from_db()
        assert job.state == JobState.FAILED and job.error.startswith("worker lost")
        assert services.job_start(type="canary", params={"seconds": 0}, actor=operator, source="cli").state == JobState.QUEUED


def page(url: str, *, session: str) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Cookie": f"sessionid={session}"})
    with urllib.request.urlopen(req, timeout=10) as response:
        return response.status, response.read().decode()


def request(url: str, *, token: str, method: str = "GET", body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class RedisDownTests:
    def test_pages_say_redis_is_down_starts_answer_503_and_all_recovers_without_a_restart(self, stack_env, tmp_path, operator):
        """A daphne of its own, on a Redis of its own that the test stops and starts again."""
        socket = tmp_path / "redis.sock"
        redis = redis_server_start(socket=socket, data_dir=tmp_path)
        port = free_port()
        env = {**stack_env, "REDIS_URL": f"unix://{socket}"}
        web = Process([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "chlops.asgi:application"], env, tmp_path / "daphne.log")
        _, token = tokens.token_create(user=operator, source="cli")
        browser = Client()
        browser.force_login(operator)
        session = browser.cookies["sessionid"].value
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _answers(base), message="daphne to listen")
            redis.terminate()
            redis.wait(10)
            status, body = request(f"{base}/api/jobs", token=token, method="POST", body={"type": "canary"})
            assert status == 503
            assert body["error"].startswith("The job queue (Redis) is not answering")
            assert request(f"{base}/api/jobs", token=token)[0] == 200  # reads still work
            status, html = page(f"{base}/admin/ops/", session=session)
            assert status == 200
            assert "Redis is not answering, so live updates and the job queue are down" in html
            redis = redis_server_start(socket=socket, data_dir=tmp_path)
            assert "Redis is not answering" not in page(f"{base}/admin/ops/partials/system-status/", session=session)[1]
            status, body = request(f"{base}/api/jobs", token=token, method="POST", body={"type": "canary"})
            assert status == 201, body
        finally:
            web.stop()
            redis.terminate()


def _answers(base: str) -> bool:
    try:
        urllib.request.urlopen(f"{base}/admin/login/", timeout=2)
        return True
    except OSError:
        return False
