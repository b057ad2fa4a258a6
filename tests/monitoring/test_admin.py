"""The modules' health in the admin: read-only, filtered by module and status, and no full count of the events."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitoring.health import runner, services
from monitoring.metrics.series import MODULES
from monitoring.models import HealthEvent, ModuleHealth

pytestmark = pytest.mark.django_db

EVENTS = "/admin/monitoring/healthevent/"
MODULES_HEALTH = "/admin/monitoring/modulehealth/"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def event(module: str, status: str, *, minutes_ago: int, previous: str = "healthy") -> HealthEvent:
    at = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    return HealthEvent.objects.create(module=module, status=status, previous=previous, message=f"{module} is {status}.", at=at)


class ModuleHealthAdminTests:
    def test_the_modules_latest_answers_are_listed_and_shown_read_only(self, superuser):
        services.health_store([runner.ModuleAnswer(name, "healthy", "", 2.0, ()) for name in MODULES], minutes=None)
        services.health_store([runner.ModuleAnswer("index", "degraded", "The index is 3 days old.", 2.0, ())], minutes=None)
        client = logged_in(superuser)
        html = client.get(MODULES_HEALTH + "?status__exact=degraded").content.decode()
        assert "The index is 3 days old." in html and "1 module health" in html
        row = ModuleHealth.objects.get(module="index")
        detail = client.get(f"{MODULES_HEALTH}{row.pk}/change/")
        assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()

    def test_they_cannot_be_added_changed_or_deleted(self, superuser):
        services.health_store([runner.ModuleAnswer("web", "healthy", "", 2.0, ())], minutes=None)
        row = ModuleHealth.objects.get(module="web")
        client = logged_in(superuser)
        assert client.get(MODULES_HEALTH + "add/").status_code == 403
        assert client.post(f"{MODULES_HEALTH}{row.pk}/change/", {"status": "down"}).status_code == 403
        assert client.post(f"{MODULES_HEALTH}{row.pk}/delete/", {"post": "yes"}).status_code == 403
        assert ModuleHealth.objects.get(module="web").status == "healthy"

    def test_who_may_not_see_the_dashboard_admin_does_not_see_it(self, plain_staff):
        assert logged_in(plain_staff).get(MODULES_HEALTH).status_code == 403


class HealthEventAdminTests:
    def test_events_are_listed_newest_first_and_filtered_by_module_and_status(self, superuser):
        event("search", "down", minutes_ago=30)
        event("search", "healthy", minutes_ago=20, previous="down")
        event("index", "down", minutes_ago=10)
        client = logged_in(superuser)
        html = client.get(EVENTS).content.decode()
        assert html.index("index is down.") < html.index("search is healthy.") < html.index("search is down.")
        html = client.get(EVENTS + "?module__exact=search&status__exact=down").content.decode()
        assert "search is down." in html and "search is healthy." not in html and "index is down." not in html

    def test_the_changelist_never_counts_or_scans_the_whole_table(self, superuser):
        event("web", "down", minutes_ago=5)
        client = logged_in(superuser)
        for query in ("", "?module__exact=web", "?status__exact=down", "?at__year=2026"):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(EVENTS + query).status_code == 200
            sql = [q["sql"].upper() for q in queries if "MONITORING_HEALTHEVENT" in q["sql"].upper()]
            counts = [s for s in sql if "COUNT(" in s]
            assert counts and all("LIMIT" in s for s in counts)
            assert not [s for s in sql if "DISTINCT" in s or "TRUNC" in s]

    def test_events_cannot_be_added_changed_or_deleted(self, superuser):
        row = event("web", "down", minutes_ago=5)
        client = logged_in(superuser)
        assert client.get(EVENTS + "add/").status_code == 403
        assert client.post(f"{EVENTS}{row.pk}/change/", {"status": "healthy"}).status_code == 403
        assert client.post(f"{EVENTS}{row.pk}/delete/", {"post": "yes"}).status_code == 403
        assert client.post(EVENTS, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}).status_code in (200, 302)
        assert HealthEvent.objects.filter(pk=row.pk).exists()
