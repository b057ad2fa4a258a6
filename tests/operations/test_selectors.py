from __future__ import annotations

import pytest
from django.db import connection

from operations import registry, selectors, services
from operations.models import Job, JobState

pytestmark = pytest.mark.django_db


class DrainActiveTests:
    def test_finds_the_unfinished_drain_and_passes_over_finished_ones(self):
        for state in (JobState.SUCCEEDED, JobState.CANCELLED, JobState.FAILED):
            Job.objects.create(type="drain", state=state)
        Job.objects.create(type="canary", state=JobState.RUNNING)
        assert selectors.job_drain_active() is None
        services.ensure_not_draining()
        running = Job.objects.create(type="drain", state=JobState.RUNNING)
        Job.objects.create(type="drain", state=JobState.QUEUED)
        assert selectors.job_drain_active() == running
        with pytest.raises(services.Draining, match=f"drained by drain job #{running.pk}"):
            services.ensure_not_draining()

    @pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plan; PostgreSQL plans from its statistics")
    def test_is_answered_from_the_index_of_unfinished_jobs(self):
        sql, params = Job.objects.filter(selectors.UNFINISHED, type="drain").order_by("pk")[:1].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "job_active_type" in plan


class LatestPerTypeTests:
    def test_each_registered_type_with_its_newest_job(self):
        Job.objects.create(type="canary")
        newest = Job.objects.create(type="canary")
        drain = Job.objects.create(type="drain", state=JobState.SUCCEEDED)
        latest = {job_type.name: job for job_type, job in selectors.job_latest_per_type()}
        assert list(latest) == [job_type.name for job_type in registry.all_types()]
        assert latest["canary"] == newest and latest["drain"] == drain
        assert all(job is None for name, job in latest.items() if name not in ("canary", "drain"))
