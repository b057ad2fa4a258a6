"""Reliability of the metrics store across processes and Redis outages (issue 9):

- requests served by two daphne processes and jobs run by two workers add up exactly in the store,
  and latency samples recorded by four separate processes merge into quantiles within the bins' error;
- with Redis stopped, pages and the API still answer at once, health says the broker is down and so
  overall health is down, and the drop counter rises; when Redis returns, metrics and health recover
  without restarting anything.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import textwrap
import time
from urllib.parse import urlencode

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chlops.redis_server import redis_server_start
from monitoring.health import runner, services
from monitoring.metrics import reading, series
from monitoring.metrics.sketch import RELATIVE_ACCURACY
from operations.models import Job, JobState
from operations.tasks import run_job
from operations.tokens import token_create
from tests.conftest import BASE_DIR, PASSWORD, Process, free_port, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def daphne(env: dict[str, str], log) -> tuple[Process, int]:
    port = free_port()
    process = Process([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "chlops.asgi:application"], env, log)

    def up() -> bool:
        if process.popen.poll() is not None:
            pytest.fail(f"daphne exited at start:\n{process.output()}")
        try:
            return request(port, "GET", "/admin/login/")[0] == 200
        except OSError:
            return False

    wait_for(up, timeout=60, interval=0.1, message="daphne to answer")
    return process, port


def request(port: int, method: str, path: str, *, headers: dict | None = None, body: str | None = None) -> tuple[int, str, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Host": "localhost", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace"), dict(response.getheaders())
    finally:
        connection.close()


def cookies_of(headers: dict) -> dict[str, str]:
    found = {}
    for line in [v for k, v in headers.items() if k.lower() == "set-cookie"]:
        name, _, rest = line.partition("=")
        found[name.strip()] = rest.split(";", 1)[0]
    return found


def logged_in(port: int, user) -> str:
    """A session cookie header for `user`, got through the login form as a browser gets it."""
    status, form, headers = request(port, "GET", "/admin/login/")
    jar = cookies_of(headers)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    body = urlencode({"username": user.get_username(), "password": PASSWORD, "csrfmiddlewaretoken": token})
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    status, _, headers = request(
        port, "POST", "/admin/login/", body=body,
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded", "Referer": "http://localhost/admin/login/"},
    )  # fmt: skip
    assert status == 302, "the login form refused the user"
    jar.update(cookies_of(headers))
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def total(family: str, *labels: str) -> int:
    return reading.totals(family).get(labels, reading.Total()).count


class AcrossProcessesTests:
    def test_two_web_processes_and_two_workers_add_up_exactly(self, stack_env, spawn_worker, tmp_path):
        web = [daphne(stack_env, tmp_path / f"web-{i}.log") for i in (1, 2)]
        try:
            spawn_worker("merge-a", queues="jobs", concurrency=1)
            spawn_worker("merge-b", queues="jobs", concurrency=1)
            labels = ("index", "PATCH", "4xx")  # nobody else sends PATCH to /api/index: 401 before the method
            jobs_before, requests_before = total("job", "canary", "succeeded"), total("http", *labels)
            sent = {port: n for (_, port), n in zip(web, (37, 23), strict=True)}
            for port, n in sent.items():
                for _ in range(n):
                    assert request(port, "PATCH", "/api/index")[0] == 401
            # Lock-free canaries, so that both workers take some at once.
            jobs = [Job.objects.create(type="canary", params={"seconds": 0.05}, state=JobState.QUEUED) for _ in range(12)]
            for job in jobs:
                run_job.delay(job.pk)
            wait_for(
                lambda: Job.objects.filter(pk__in=[j.pk for j in jobs], state=JobState.SUCCEEDED).count() == len(jobs),
                timeout=60, message="the canaries to finish",
            )  # fmt: skip
            ran_on = set(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("worker", flat=True))
            assert len(ran_on) >= 2, f"the jobs all ran on {ran_on}"
            wait_for(lambda: total("http", *labels) - requests_before >= 60, timeout=15, message="the web processes to flush")
            wait_for(lambda: total("job", "canary", "succeeded") - jobs_before >= 12, timeout=15, message="the workers to flush")
            assert total("http", *labels) - requests_before == sum(sent.values())
            assert total("job", "canary", "succeeded") - jobs_before == len(jobs)
        finally:
            for process, _ in web:
                process.stop()

    def test_latencies_recorded_by_four_processes_merge_within_the_bins_error(self, stack_env):
        start = series.bucket_start(time.time() - 7 * 3600, 600)  # ten minutes of this test's own
        script = textwrap.dedent(
            f"""
            import django, numpy as np
            django.setup()
            from monitoring.metrics import RECORDER, clock, series
            import sys
            seed = int(sys.argv[1])
            clock.clock_set({start} + 30)
            for value in np.random.default_rng(seed).lognormal(-3 + seed / 4, 0.9, 20_000):
                RECORDER.observe(series.SEARCH, "dense", ("ok",), float(value))
            assert RECORDER.flush()
            """
        )
        processes = [
            subprocess.Popen([sys.executable, "-c", script, str(seed)], cwd=BASE_DIR, env=stack_env)
            for seed in range(4)
        ]
        assert [p.wait(120) for p in processes] == [0, 0, 0, 0]
        sent = np.concatenate([np.random.default_rng(seed).lognormal(-3 + seed / 4, 0.9, 20_000) for seed in range(4)])
        point = reading.series_points("search", "dense", since=start, until=start + 60, width=series.MINUTE)[0]
        assert point.count == len(sent)
        for q in (0.5, 0.95, 0.99):
            exact = float(np.quantile(sent, q))
            assert abs(point.sketch.quantile(q) - exact) / exact <= 2 * RELATIVE_ACCURACY


def _count(families: dict, **labels: str) -> float:
    histogram = families["chlops_http_request_duration_seconds"]
    return sum(
        s.value for s in histogram.samples if s.name.endswith("_count") and all(s.labels.get(k) == v for k, v in labels.items())
    )


class RedisDownTests:
    def test_pages_and_the_api_answer_without_redis_and_everything_recovers_when_it_returns(
        self, stack_env, tmp_path, operator
    ):
        socket = tmp_path / "redis.sock"
        redis_process = redis_server_start(socket=socket, data_dir=tmp_path)
        env = {**stack_env, "REDIS_URL": f"unix://{socket}"}
        web, port = daphne(env, tmp_path / "web.log")
        try:
            services.health_store([runner.ModuleAnswer(name, "healthy", "", 1.0, ()) for name in series.MODULES], minutes=None)
            bearer = {"Authorization": f"Bearer {token_create(user=operator, name='probe', source='cli')[1]}"}
            session = {"Cookie": logged_in(port, operator)}
            assert json.loads(request(port, "GET", "/api/health", headers=bearer)[1])["status"] == "healthy"

            redis_process.terminate()
            redis_process.wait(10)
            took = []
            for _ in range(20):
                started = time.perf_counter()
                assert request(port, "GET", "/api/jobs", headers=bearer)[0] == 200  # no Redis on its path
                took.append(time.perf_counter() - started)
            status, body, _ = request(port, "GET", "/api/health", headers=bearer)
            health = json.loads(body)
            assert status == 200
            assert (health["status"], health["modules"]["broker"]["status"]) == ("down", "down")
            page_status, page, _ = request(port, "GET", "/admin/ops/monitoring/", headers=session)
            assert page_status == 200 and "Redis is not answering" in page
            assert sorted(took)[-2] < 0.25, f"requests waited while Redis was down: {took}"

            def dropped_here() -> float:
                text = request(port, "GET", "/metrics", headers=bearer)[1]
                families = {f.name: f for f in text_string_to_metric_families(text)}
                return families["chlops_metrics_dropped_unsent"].samples[0].value

            wait_for(lambda: dropped_here() > 0, timeout=10, message="the web process to count what it dropped")

            redis_process = redis_server_start(socket=socket, data_dir=tmp_path)
            wait_for(lambda: dropped_here() == 0, timeout=15, message="the drops to be counted in Redis")
            health = json.loads(request(port, "GET", "/api/health", headers=bearer)[1])
            assert health["modules"]["broker"]["status"] == "healthy"

            def scraped() -> dict:
                return {f.name: f for f in text_string_to_metric_families(request(port, "GET", "/metrics", headers=bearer)[1])}

            assert scraped()["chlops_metrics_dropped"].samples[0].value > 0
            before = _count(scraped(), module="jobs")
            assert request(port, "GET", "/api/jobs", headers=bearer)[0] == 200
            wait_for(lambda: _count(scraped(), module="jobs") == before + 1, timeout=10, message="requests to be counted again")
        finally:
            web.stop()
            redis_process.terminate()
            redis_process.wait(10)
