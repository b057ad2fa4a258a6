from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from audit.middleware import AuditContextMiddleware
from audit.models import AuditLog, Outcome
from audit.services import audit_denied

pytestmark = pytest.mark.django_db


class AuditContextMiddlewareTests:
    def test_any_admin_403_is_audited(self, client, plain_staff):
        client.force_login(plain_staff)
        assert client.get("/admin/auth/user/", REMOTE_ADDR="198.51.100.4").status_code == 403
        row = AuditLog.objects.get(action="permission.denied")
        assert (row.actor_username, row.source, row.outcome) == ("stan", "admin", Outcome.DENIED)
        assert row.target == "/admin/auth/user/" and row.ip == "198.51.100.4"
        assert row.details["view"] == "admin:auth_user_changelist"

    def test_a_refusal_already_audited_is_not_recorded_twice(self, plain_staff):
        request = RequestFactory().get("/ops/secret")
        request.user = plain_staff
        audit_denied(request=request, permission="operations.run_jobs", source="web")
        AuditContextMiddleware(lambda request: None).process_exception(request, PermissionDenied())
        assert AuditLog.objects.filter(action="permission.denied").count() == 1

    def test_rows_written_during_a_request_carry_its_ip(self, client, auditor):
        client.force_login(auditor)
        client.get("/admin/audit/auditlog/1/delete/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="probe")
        row = AuditLog.objects.get(action="permission.denied")
        assert (row.ip, row.user_agent) == ("203.0.113.9", "probe")
