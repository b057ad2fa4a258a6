from __future__ import annotations

import json
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from audit.models import AuditLog
from chlops.celery import app as celery_app
from operations import queueing, services, workers
from operations.models import Job, JobState
from operations.tasks import ping
from tests.conftest import wait_for
from tests.gates import hold, wait_until_held
from tests.monitoring.helpers import hostname, wait_for_state
from tests.operations.factories import job_create

pytestmark = pytest.mark.django_db(transaction=True)


def post_json(client: Client, url: str, body: object = None):
    data = json.dumps(body) if body is not None else ""
    return client.post(url, data=data, content_type="application/json")


@pytest.fixture
def api(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture(scope="session")
def alpha_beta(spawn_worker, worker) -> None:
    spawn_worker("alpha")
    spawn_worker("beta")


@pytest.fixture
def two_workers(alpha_beta):
    """alpha, beta and the shared worker, separate processes, beating; every worker is resumed afterwards."""
    for name in ("alpha", "beta", "test"):
        wait_for_state(name, "online")
    try:
        yield
    finally:
        Job.objects.filter(state=JobState.QUEUED).update(state=JobState.CANCELLED)
        workers.workers_resume(source="cli")


def finished(job_id: int) -> bool:
    return Job.objects.get(pk=job_id).is_finished


class PauseResumeTests:
    def test_pause_one_worker_and_a_canary_runs_on_another(self, api, two_workers):
        # Workers other tests started beat too; wait until every running one is on the roster.
        running = {node for reply in celery_app.control.ping(timeout=1) for node in reply}
        wait_for(lambda: running <= set(workers.roster().live()), message="every running worker on the roster")
        others = [h for h in workers.roster().live() if h != hostname("beta")]
        response = post_json(api, "/api/workers/pause", {"workers": others})
        assert response.status_code == 200
        assert response.json() == {"replied": sorted(others), "missing": []}
        wait_for_state("alpha", "paused")
        job = services.job_start(type="canary", params={"seconds": 0}, source="cli")
        wait_for(lambda: finished(job.pk), message="canary to finish")
        assert Job.objects.get(pk=job.pk).worker == hostname("beta")
        log = AuditLog.objects.filter(action="workers.pause").latest("pk")
        assert log.details["replied"] == sorted(others)
        response = post_json(api, "/api/workers/resume", {"workers": [hostname("alpha")]})
        assert response.json() == {"replied": [hostname("alpha")], "missing": []}
        row = wait_for_state("alpha", "online")
        assert row["queues"] == ["control", "embed", "jobs"]

    def test_pause_all_answers_with_every_live_worker(self, api, two_workers):
        started = time.monotonic()
        body = post_json(api, "/api/workers/pause").json()
        assert {hostname("alpha"), hostname("beta"), hostname("test")} <= set(body["replied"]) and body["missing"] == []
        assert time.monotonic() - started < workers.REPLY_TIMEOUT  # it did not wait for a timeout
        assert post_json(api, "/api/workers/resume").json()["missing"] == []

    def test_unknown_worker_is_404_naming_the_known_ones(self, api, worker):
        wait_for_state("test", "online")
        response = post_json(api, "/api/workers/pause", {"workers": ["nobody@nowhere"]})
        assert response.status_code == 404
        assert response.json()["error"].startswith("Unknown worker: nobody@nowhere. Known workers:")

    @pytest.mark.parametrize("body", [{"workers": []}, {"workers": "alpha"}, {"workers": [1]}, ["alpha"]])
    def test_a_malformed_worker_list_is_400(self, api, body):
        response = post_json(api, "/api/workers/pause", body)
        assert response.status_code == 400 and response.json()["error"].startswith("Name the workers ")

    def test_pause_while_the_broker_is_down_is_503_with_a_sentence(self, api, tmp_path):
        with override_settings(REDIS_URL=f"unix://{tmp_path}/absent.sock"):
            response = post_json(api, "/api/workers/pause")
        assert response.status_code == 503
        assert response.json()["error"] == (
            "The broker (Redis) is not answering, so no worker could be told to pause. Check that Redis is running, then try again."
        )

    def test_auditors_may_list_but_not_pause(self, auditor):
        client = Client()
        client.force_login(auditor)
        assert client.get("/api/workers").status_code == 200
        assert post_json(client, "/api/workers/pause").status_code == 403

    def test_list_reports_the_documented_fields(self, api, worker):
        wait_for_state("test", "online")
        rows = api.get("/api/workers").json()["results"]
        row = next(r for r in rows if r["hostname"] == hostname("test"))
        assert {
            "hostname",
            "kind",
            "state",
            "queues",
            "active",
            "processed",
            "failed",
            "gpu",
            "last_seen",
            "heartbeat_age_seconds",
        } <= set(row)


class DrainRefusalTests:
    def test_a_job_started_while_draining_is_503_naming_the_drain(self, api):
        drain = job_create(state=JobState.RUNNING, type="drain", lock_key="drain")
        response = post_json(api, "/api/jobs", {"type": "canary", "params": {"seconds": 0}})
        assert response.status_code == 503
        assert response.json()["error"].startswith(f"draining: the workers are being drained by drain job #{drain.pk}")

    def test_a_second_drain_is_409(self, api):
        job_create(state=JobState.RUNNING, type="drain", lock_key="drain")
        response = post_json(api, "/api/jobs", {"type": "drain", "params": {"timeout": 10}})
        assert response.status_code == 409 and response.json()["error"].startswith("Already running: drain job")

    @pytest.mark.parametrize("timeout", [0, 86_401, "soon"])
    def test_a_timeout_outside_1_to_86400_or_not_a_number_is_400(self, api, timeout):
        response = post_json(api, "/api/jobs", {"type": "drain", "params": {"timeout": timeout}})
        assert response.status_code == 400 and response.json()["error"].startswith(
            "Invalid parameters for drain: timeout:"
        )


def backlog(count: int, seconds: float) -> list[int]:
    """Queued canary jobs straight into the broker: the canary lock allows only one through job_start."""
    jobs = [Job.objects.create(type="canary", params={"seconds": seconds}, queue="jobs") for _ in range(count)]
    for job in jobs:
        queueing.send_run_job(job_id=job.pk, queue="jobs")
    return [job.pk for job in jobs]


class DrainTests:
    def test_drain_with_a_long_timeout_finishes_the_backlog_then_pauses(self, two_workers):
        workers.workers_pause(source="cli")
        ids = backlog(20, 0)
        workers.workers_resume(source="cli")
        drain = services.job_start(type="drain", params={"timeout": 120}, source="cli")
        wait_for(lambda: finished(drain.pk), timeout=120, message="drain to finish")
        drain.refresh_from_db()
        assert drain.state == JobState.SUCCEEDED, drain.error
        assert Job.objects.filter(pk__in=ids, state=JobState.SUCCEEDED).count() == 20
        assert drain.result["remaining"] == 0 and drain.result["timed_out"] is False
        assert drain.result["messages"] == {"jobs": 0, "embed": 0} and drain.result["missing"] == []
        assert {hostname("alpha"), hostname("beta"), hostname("test")} <= set(drain.result["paused"])
        wait_for_state("alpha", "paused")

    def test_drain_with_a_short_timeout_reports_what_is_really_left(self, two_workers):
        workers.workers_pause(source="cli")
        ids = backlog(20, 1)
        # One job of the backlog cannot end before the drain has: its 1 s runs out with work left, surely.
        with hold(job=ids[0]):
            workers.workers_resume(source="cli")
            drain = services.job_start(type="drain", params={"timeout": 1}, source="cli")
            wait_for(lambda: finished(drain.pk), timeout=60, message="drain to finish")
        drain.refresh_from_db()
        assert drain.result["timed_out"] is True and drain.result["remaining"] > 0
        # Paused: what a worker had already fetched still runs; then nothing moves and the rest waits.
        wait_for(
            lambda: not Job.objects.filter(pk__in=ids, state=JobState.RUNNING).exists()
            and Job.objects.filter(pk__in=ids, state=JobState.QUEUED).count() == workers.queue_depths()["jobs"],
            timeout=30,
            message="paused workers to settle",
        )
        assert workers.queue_depths()["jobs"] == drain.result["messages"]["jobs"]
        assert Job.objects.filter(pk__in=ids, state=JobState.QUEUED).count() == drain.result["messages"]["jobs"]

    def test_resume_ends_a_running_drain(self, api, two_workers):
        with hold("canary"):  # the busy canary runs until the test cancels it, so the drain has to wait
            busy = services.job_start(type="canary", params={"seconds": 60}, source="cli")
            wait_until_held(busy.pk)
            drain = services.job_start(type="drain", params={"timeout": 600}, source="cli")
            wait_for(lambda: Job.objects.filter(pk=drain.pk, phase="draining").exists(), message="drain to wait")
            assert api.get("/api/workers").json()["results"][0]["state"] == "draining"
            assert post_json(api, "/api/workers/resume").status_code == 200
            wait_for(lambda: finished(drain.pk), message="drain to end")
            assert Job.objects.get(pk=drain.pk).state == JobState.CANCELLED
            services.job_cancel(job=busy, source="cli")
        wait_for(lambda: finished(busy.pk), message="busy canary to stop")
        assert Job.objects.get(pk=busy.pk).state == JobState.CANCELLED
        assert services.job_start(type="canary", params={"seconds": 0}, source="cli").state == JobState.QUEUED  # no 503


class QueuesTests:
    def test_queues_report_depths_the_oldest_message_and_the_corpus(self, api, two_workers):
        workers.workers_pause(source="cli")
        ping.apply_async(queue="embed")
        # A worker's BRPOP already waiting when the pause landed may pop the message and put it back (kombu
        # requeues what no consumer wants); await the depth rather than read it in that window.
        body = wait_for(
            lambda: (answer := api.get("/api/queues").json())["broker"]["embed"] >= 1 and answer,
            message="the message to wait in the embed queue",
        )
        assert body["broker"]["embed"] >= 1 and set(body["broker"]) == {"jobs", "embed", "control"}
        assert body["oldest_seconds"] is not None and 0 <= body["oldest_seconds"] < 60
        assert set(body["corpus"]) == {"experience", "manual", "document"} and body["corpus"]["manual"] == {
            "pending": 0,
            "failed": 0,
        }
        assert isinstance(body["rate_per_minute"], float | int)


class CommandTests:
    def test_list_json(self, worker):
        wait_for_state("test", "online")
        out = StringIO()
        call_command("workers", "list", "--json", stdout=out)
        assert hostname("test") in {row["hostname"] for row in json.loads(out.getvalue())}

    def test_pause_unknown_exits_2_with_a_sentence(self, worker):
        wait_for_state("test", "online")
        with pytest.raises(CommandError) as err:
            call_command("workers", "pause", "nobody@nowhere")
        assert err.value.returncode == 2 and "Unknown worker: nobody@nowhere" in str(err.value)

    def test_drain_with_a_bad_timeout_exits_2(self):
        with pytest.raises(CommandError) as err:
            call_command("workers", "drain", "--timeout", "0")
        assert err.value.returncode == 2 and "timeout" in str(err.value)

    def test_drain_prints_its_result_and_exits_0(self, two_workers):
        out = StringIO()
        call_command("workers", "drain", "--timeout", "30", stdout=out)
        result = json.loads(out.getvalue()[out.getvalue().index("{") :])
        assert result["remaining"] == 0 and result["timed_out"] is False and hostname("test") in result["paused"]

    def test_pause_and_resume_one_worker(self, worker):
        wait_for_state("test", "online")
        out = StringIO()
        try:
            call_command("workers", "pause", hostname("test"), stdout=out)
            assert out.getvalue().strip() == f"Paused {hostname('test')}."
        finally:
            call_command("workers", "resume", hostname("test"), stdout=out)
        assert f"Resumed {hostname('test')}." in out.getvalue()


class DashboardControlTests:
    def test_pause_and_resume_from_the_card_answer_inline(self, api, two_workers):
        response = api.post("/admin/ops/workers/pause/", {"worker": hostname("alpha")}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        html = response.content.decode()
        assert f"Paused {hostname('alpha')}." in html and 'id="workers-card"' in html
        html = api.post("/admin/ops/workers/resume/", {"worker": hostname("alpha")}).content.decode()
        assert f"Resumed {hostname('alpha')}." in html

    def test_an_unknown_worker_or_a_bad_drain_timeout_is_an_inline_error(self, api, worker):
        wait_for_state("test", "online")
        response = api.post("/admin/ops/workers/pause/", {"worker": "nobody@nowhere"})
        assert response.status_code == 400 and "Unknown worker: nobody@nowhere" in response.content.decode()
        response = api.post("/admin/ops/workers/drain/", {"timeout": "0"})
        assert (
            response.status_code == 400
            and "Ensure this value is greater than or equal to 1." in response.content.decode()
        )

    def test_auditors_cannot_pause(self, auditor):
        client = Client()
        client.force_login(auditor)
        assert client.post("/admin/ops/workers/pause/").status_code == 403
