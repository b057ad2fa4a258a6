"""Maintenance windows: a drain, reindex or restore job silences what it disturbs from the moment it runs until
it ends, however it ends (held at a gate on a real worker, cancelled, or failed by the reaper)."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.cards import banner_context
from alerts.models import AlertRule, Metric, Silence
from alerts.silences import alerts_mark_silenced
from audit.models import AuditLog
from operations import services
from operations.models import Job, JobState
from operations.observers import job_transition
from tests.alerts.test_ack import a_firing_alert
from tests.conftest import wait_for
from tests.gates import hold, wait_until_held
from tests.operations.factories import job_create
from tests.sessions import browser_login


def windows_of(job: Job) -> list[Silence]:
    return list(Silence.objects.filter(job=job).order_by("id"))


def open_windows(job: Job) -> list[Silence]:
    return [s for s in windows_of(job) if s.is_active()]


def ended(job: Job) -> bool:
    job.refresh_from_db()
    return job.is_finished


@pytest.mark.django_db
class WindowTests:
    def test_a_running_drain_silences_queue_alerts_and_says_so_on_the_alert_and_the_job(self, operator):
        job = job_create(type="drain", state=JobState.RUNNING, requested_by=operator)
        job_transition(job.pk, type="drain", state=JobState.RUNNING)
        [window] = open_windows(job)
        assert window.metric == Metric.QUEUE_LENGTH and window.correlation_id == job.correlation_id
        queue_rule = AlertRule.objects.filter(metric=Metric.QUEUE_LENGTH).first()
        queued = a_firing_alert(rule=queue_rule, module="", severity="warning", fingerprint="queue")
        other = a_firing_alert(fingerprint="other")  # an error-rate alert: not the drain's to hide
        alerts_mark_silenced()
        assert [a.pk for a in banner_context("dashboard")["alerts"]] == [other.pk]
        client = browser_login(operator)
        page = html.unescape(client.get("/admin/ops/alerts/").content.decode())
        assert f"silenced by maintenance: drain job #{job.pk}" in page
        assert client.get("/api/alerts").json()["results"][1]["silenced_by"] == f"maintenance: drain job #{job.pk}"
        assert "Maintenance window" in client.get(f"/admin/ops/jobs/{job.pk}/").content.decode()
        row = AuditLog.objects.get(action="silence.create")
        assert row.correlation_id == job.correlation_id and row.source == "system"
        job_transition(job.pk, type="drain", state=JobState.SUCCEEDED)
        assert open_windows(job) == [] and windows_of(job)[0].ended_early_at is not None
        assert {a.pk for a in banner_context("dashboard")["alerts"]} == {queued.pk, other.pk}

    @pytest.mark.parametrize("job_type", ["reindex", "restore"])
    def test_reindex_and_restore_silence_index_and_search(self, job_type):
        job = job_create(type=job_type, state=JobState.RUNNING)
        job_transition(job.pk, type=job_type, state=JobState.RUNNING)
        assert sorted(s.module for s in open_windows(job)) == ["index", "search"]
        job_transition(job.pk, type=job_type, state=JobState.FAILED)
        assert open_windows(job) == []

    def test_other_jobs_open_no_window(self):
        job = job_create(type="canary", state=JobState.RUNNING)
        job_transition(job.pk, type="canary", state=JobState.RUNNING)
        assert not Silence.objects.exists()

    def test_the_reaper_failing_a_lost_reindex_closes_its_window(self, settings):
        job = job_create(type="reindex", state=JobState.RUNNING)
        job_transition(job.pk, type="reindex", state=JobState.RUNNING)
        stale = timezone.now() - timedelta(seconds=settings.CHLOPS_JOB_STALE_SECONDS + 5)
        Job.objects.filter(pk=job.pk).update(heartbeat_at=stale)  # its worker was killed with kill -9
        assert services.jobs_reap_lost() == [job.pk]
        assert open_windows(job) == [] and len(windows_of(job)) == 2


@pytest.mark.django_db(transaction=True)
class WindowOnTheWorkerTests:
    def test_a_drain_held_at_a_gate_keeps_its_window_open_and_a_cancel_closes_it(self, worker, operator):
        with hold("drain"):
            job = services.job_start(type="drain", params={"timeout": 60}, actor=operator, source="cli")
            wait_until_held(job.pk)
            [window] = open_windows(job)
            assert window.metric == Metric.QUEUE_LENGTH and window.job_id == job.pk
            services.job_cancel(job=job, actor=operator, source="cli")
            assert open_windows(job) == [window]  # cancelling, not cancelled yet: the drain still runs
        wait_for(lambda: ended(job), timeout=30, message="the drain to stop")
        assert job.state == JobState.CANCELLED
        # The worker ends the window right after it writes the job's end (its observer runs next).
        wait_for(lambda: open_windows(job) == [], timeout=10, message="the drain's window to close")
        assert windows_of(job)[0].ended_early_at is not None

    def test_a_held_drain_failed_for_a_lost_worker_closes_its_window(self, worker, operator):
        with hold("drain"):
            job = services.job_start(type="drain", params={"timeout": 60}, actor=operator, source="cli")
            wait_until_held(job.pk)
            assert len(open_windows(job)) == 1
            job.refresh_from_db()
            assert services.jobs_fail_for_lost_worker(worker=job.worker) == [job.pk]
            assert open_windows(job) == []
        job.refresh_from_db()
        assert job.state == JobState.FAILED
