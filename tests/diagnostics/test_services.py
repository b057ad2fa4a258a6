"""Recomputing after a health round or a job: every page's banner is pushed when the list changed, only then."""

from __future__ import annotations

import pytest
from django.utils import timezone

from chlops.redis_clients import redis_client
from diagnostics import broadcasts, services
from monitoring.models import WorkerHeartbeat
from operations import broadcasts as ops_broadcasts
from operations import observers

pytestmark = pytest.mark.django_db


@pytest.fixture
def pushed(monkeypatch):
    names: list[str] = []
    monkeypatch.setattr(ops_broadcasts, "card_changed", names.append)
    redis_client().delete(services.PUSHED_KEY)
    return names


class RefreshTests:
    def test_pushes_every_pages_banner_when_the_list_changes_and_only_then(self, pushed):
        WorkerHeartbeat.objects.all().delete()
        assert services.diagnostics_refresh() is True
        assert sorted(pushed) == sorted(
            broadcasts.banner_card(page) for page in ("operations", "monitoring", "settings", "alerts")
        )
        pushed.clear()
        assert services.diagnostics_refresh() is False and pushed == []
        now = timezone.now()
        WorkerHeartbeat.objects.create(hostname="w@host", up_since=now, last_seen=now)
        assert services.diagnostics_refresh() is True and len(pushed) == 4

    def test_a_health_round_or_a_followed_jobs_end_refreshes_a_search_or_another_job_does_not(self, pushed):
        WorkerHeartbeat.objects.all().delete()
        observers.observe("search", key="dense", outcome="ok", seconds=0.01)
        observers.observe("job", key="canary", outcome="succeeded", seconds=0.01)
        assert pushed == []
        observers.observe("health", key="round", outcome="ok", seconds=0.5)
        assert len(pushed) == 4
        pushed.clear()
        now = timezone.now()
        WorkerHeartbeat.objects.create(hostname="w@host", up_since=now, last_seen=now)
        observers.observe("job", key="verify", outcome="succeeded", seconds=0.2)
        assert len(pushed) == 4
