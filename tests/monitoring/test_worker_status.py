"""The workers monitor: /api/monitoring/workers in the seed's WorkerStatus shape, the queue's length in
the store with its alert threshold, recent failed jobs linking to their pages, the card and the check."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.utils import timezone
from health_check.exceptions import ServiceWarning

from monitoring.collectors.queues import queue_length_sample
from monitoring.health.infrastructure import QueueShort
from monitoring.metrics import RECORDER, clock
from monitoring.status import workers as worker_status
from operations import workers as control
from operations.models import Job, JobState
from operations.tokens import token_create
from tests.sessions import browser_login

pytestmark = pytest.mark.django_db


def bearer(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token_create(user=user, name='test', source='cli')[1]}")


@pytest.fixture
def long_queue(monkeypatch):
    monkeypatch.setattr(control, "queue_depths", lambda: {"jobs": 140, "embed": 10, "control": 0})
    clock.clock_set(time.time() + 40 * 86400)  # buckets no other test sampled into
    yield
    clock.clock_reset()


class ApiTests:
    def test_the_seeds_worker_status_and_the_queue_over_the_range(self, auditor, long_queue):
        assert queue_length_sample() == 150
        RECORDER.flush()
        body = bearer(auditor).get("/api/monitoring/workers?range=1h").json()
        assert {"active_workers", "worker_health", "queue_length", "processing_rate", "failed_tasks"} <= set(body)
        assert (
            body["queue_length"] == 150 and body["queue_alert_threshold"] == worker_status.QUEUE_ALERT_THRESHOLD == 100
        )
        assert body["queue_series"]["max"][-1] == 150 and len(body["queue_series"]["t"]) == 61

    def test_recent_failed_jobs_link_to_their_pages(self, operator):
        job = Job.objects.create(
            type="canary", params={}, state=JobState.FAILED, error="It broke.", finished_at=timezone.now()
        )
        body = bearer(operator).get("/api/monitoring/workers").json()
        failed = next(item for item in body["recent_failed"] if item["id"] == job.pk)
        assert failed == {**failed, "type": "canary", "error": "It broke.", "url": f"/admin/ops/jobs/{job.pk}/"}

    def test_bad_input_is_400_with_a_sentence(self, operator):
        client = bearer(operator)
        assert client.get("/api/monitoring/workers?limit=5").json() == {
            "error": "Unknown parameter 'limit'; it takes: range."
        }
        response = client.get("/api/monitoring/workers?range=1y")
        assert response.status_code == 400 and "use one of: 1h, 6h, 24h, 7d" in response.json()["error"]
        assert bearer(operator).get("/api/monitoring/workers?range=7d").status_code == 200

    def test_without_a_broker_the_length_is_unknown_not_zero(self, operator, monkeypatch):
        def down():
            raise control.ServiceUnavailable("The broker is not answering.")

        monkeypatch.setattr(control, "queue_depths", down)
        assert bearer(operator).get("/api/monitoring/workers").json()["queue_length"] is None
        assert queue_length_sample() is None


class CardTests:
    def test_the_card_draws_the_queue_with_its_threshold_and_links_failed_jobs(self, operator, long_queue):
        queue_length_sample()
        RECORDER.flush()
        job = Job.objects.create(
            type="canary", params={}, state=JobState.FAILED, error="Oops.", finished_at=timezone.now()
        )
        html = browser_login(operator).get("/admin/ops/monitoring/").content.decode()
        assert '<section id="worker-status-card"' in html and 'data-threshold="100"' in html
        assert 'data-chart="queue"' in html and "above the threshold of 100" in html
        assert f'<a href="/admin/ops/jobs/{job.pk}/">canary #{job.pk}</a>' in html


class HealthTests:
    def test_a_queue_over_the_threshold_degrades_the_workers_module(self, long_queue):
        with pytest.raises(ServiceWarning, match="150 messages wait in the queues, more than 100"):
            QueueShort().run()
