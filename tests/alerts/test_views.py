"""The Alerts page: firing and history, filters, CSV export, and the rules superusers edit."""

from __future__ import annotations

import csv
import html
import io

import pytest
from django.utils import timezone

from alerts.models import AlertRule, AlertState
from audit.models import AuditLog
from tests.alerts.test_ack import a_firing_alert
from tests.sessions import browser_login, csrf_header

pytestmark = pytest.mark.django_db


class AlertsPageTests:
    def test_the_page_is_a_tab_between_monitoring_and_settings_with_the_seeded_rules(self, superuser):
        page = browser_login(superuser).get("/admin/ops/alerts/").content.decode()
        nav = page[page.index('class="ops-tabs"') :]
        tabs = [nav.index(f">{title}</a>") for title in ("Monitoring", "Alerts", "Settings")]
        assert tabs == sorted(tabs)
        for name in ("Error rate above 5 %", "p95 response time above 500 ms", "Queue length above 100",
                     "Cache hit rate below 50 %", "Worker health degraded", "Module down"):  # fmt: skip
            assert name in page

    def test_history_filters_by_severity_state_and_module(self, auditor):
        resolved = a_firing_alert(state=AlertState.RESOLVED, resolved_at=timezone.now(), message="Old breach of web")
        a_firing_alert(severity="warning", module="search", message="Search is slow")
        client = browser_login(auditor)
        page = client.get("/admin/ops/alerts/?state=resolved").content.decode()
        assert "Old breach of web" in page and f'data-alert="{resolved.pk}"' in page
        page = client.get("/admin/ops/alerts/?module=search&severity=warning").content.decode()
        history = page[page.index('id="alerts-history"') :]
        assert "Search is slow" in history and "Old breach of web" not in history
        assert client.get("/admin/ops/alerts/?state=bogus&before=x").status_code == 200  # ignored, not a 500

    def test_csv_export_has_the_history_and_defuses_formulas(self, auditor):
        a_firing_alert(comment="=HYPERLINK(1)", message="Queue length is 130, above 100")
        response = browser_login(auditor).get("/admin/ops/alerts/export.csv")
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        assert rows[0]["message"] == "Queue length is 130, above 100" and rows[0]["comment"] == "'=HYPERLINK(1)"


class RuleEditTests:
    def test_a_superuser_changes_a_rule_and_the_audit_has_old_and_new(self, superuser):
        rule = AlertRule.objects.get(name="Error rate above 5 %")
        client = browser_login(superuser)
        response = client.post(
            f"/admin/ops/alerts/rules/{rule.pk}/",
            {
                "threshold": "7.5",
                "for_seconds": "120",
                "clear_threshold": "6",
                "severity": "warning",
                "enabled": "true",
            },
            **csrf_header(client),
        )
        assert response.status_code == 200 and "Saved Error rate above 5 %." in response.content.decode()
        rule.refresh_from_db()
        assert (rule.threshold, rule.for_seconds, rule.clear_threshold, rule.severity) == (7.5, 120, 6.0, "warning")
        row = AuditLog.objects.get(action="alert_rule.update")
        assert row.details["old"]["threshold"] == 5.0 and row.details["new"]["threshold"] == 7.5

    @pytest.mark.parametrize(
        ("data", "words"),
        [
            ({"threshold": "lots"}, "'threshold' must be a number"),
            ({"for_seconds": "-1"}, "'for_seconds' must be"),
            ({"threshold": "5", "clear_threshold": "9"}, "'clear_threshold' must be at or below"),
        ],
    )
    def test_bad_values_are_400_naming_the_field(self, superuser, data, words):
        rule = AlertRule.objects.get(name="Error rate above 5 %")
        client = browser_login(superuser)
        body = {
            "threshold": "5",
            "for_seconds": "60",
            "clear_threshold": "4",
            "severity": "critical",
            "enabled": "true",
            **data,
        }
        response = client.post(f"/admin/ops/alerts/rules/{rule.pk}/", body, **csrf_header(client))
        assert response.status_code == 400 and words in html.unescape(response.content.decode())
        assert not AuditLog.objects.filter(action="alert_rule.update").exists()

    def test_an_operator_may_not_change_rules(self, operator):
        rule = AlertRule.objects.get(name="Error rate above 5 %")
        client = browser_login(operator)
        response = client.post(f"/admin/ops/alerts/rules/{rule.pk}/", {"threshold": "1"}, **csrf_header(client))
        assert response.status_code == 403
        rule.refresh_from_db()
        assert rule.threshold == 5.0

    def test_the_admin_lists_alerts_read_only(self, superuser):
        alert = a_firing_alert()
        client = browser_login(superuser)
        assert client.get("/admin/alerts/alert/").status_code == 200
        assert client.get(f"/admin/alerts/alert/{alert.pk}/change/").status_code == 200
        assert client.get("/admin/alerts/alert/add/").status_code == 403
