from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, Permission
from django.test import Client

from audit.models import AuditLog
from operations.access import RUN, SUPERUSER, SYNC, VIEW, access_allowed, socket_access
from tests.indexes.peer_factories import peer_account

pytestmark = pytest.mark.django_db


def denials() -> list[tuple[str, str, str, str]]:
    return [
        (row.actor_username, row.source, row.details["permission"], row.details["channel"])
        for row in AuditLog.objects.filter(action="permission.denied").order_by("id")
    ]


class AccessAllowedTests:
    def test_operators_view_and_run_auditors_only_view_other_staff_neither(self, operator, auditor, plain_staff):
        assert (access_allowed(operator, VIEW), access_allowed(operator, RUN)) == (True, True)
        assert (access_allowed(auditor, VIEW), access_allowed(auditor, RUN)) == (True, False)
        assert (access_allowed(plain_staff, VIEW), access_allowed(plain_staff, RUN)) == (False, False)

    def test_inactive_or_anonymous_users_have_no_access(self, operator):
        operator.is_active = False
        assert not access_allowed(operator, VIEW)
        assert not access_allowed(AnonymousUser(), VIEW) and not access_allowed(None, VIEW)

    def test_settings_are_for_superusers_only_not_even_a_user_given_every_permission(self, operator, superuser):
        operator.user_permissions.set(Permission.objects.all())
        operator = type(operator).objects.get(pk=operator.pk)  # without the cached permissions
        assert (access_allowed(superuser, SUPERUSER), access_allowed(operator, SUPERUSER)) == (True, False)

    def test_the_sync_api_is_for_peers_accounts_which_see_nothing_else(self, operator):
        peer = peer_account()
        assert access_allowed(peer, SYNC) and not access_allowed(operator, SYNC)
        assert not access_allowed(peer, VIEW) and not access_allowed(peer, RUN)


class DenialAuditTests:
    """One refusal, one audit row, from whichever door: page, API or websocket."""

    def test_a_page_refusal_is_audited_once_as_web(self, auditor):
        client = Client()
        client.force_login(auditor)
        assert client.post("/admin/ops/run/canary/", {"canary-seconds": "1"}).status_code == 403
        assert denials() == [("arthur", "web", RUN, "http")]

    def test_an_api_refusal_is_audited_once_as_api(self, auditor):
        client = Client()
        client.force_login(auditor)
        assert client.post("/api/jobs", {"type": "canary"}, content_type="application/json").status_code == 403
        assert denials() == [("arthur", "api", RUN, "http")]

    def test_a_websocket_refusal_is_audited_once_with_the_client_address(self, plain_staff):
        scope = {
            "type": "websocket",
            "user": plain_staff,
            "path": "/ws/ops/",
            "query_string": b"view=dashboard",
            "client": ["203.0.113.5", 50000],
            "headers": [(b"user-agent", b"probe/1.0"), (b"origin", b"http://localhost")],
        }
        assert socket_access(scope) == (False, False)
        assert denials() == [("stan", "web", VIEW, "websocket")]
        row = AuditLog.objects.get(action="permission.denied")
        assert (row.target, row.ip, row.user_agent) == ("/ws/ops/", "203.0.113.5", "probe/1.0")

    def test_an_auditor_watches_the_socket_without_run_rights_and_nothing_is_audited(self, auditor):
        assert socket_access({"user": auditor, "path": "/ws/ops/"}) == (True, False)
        assert denials() == []

    def test_anonymous_refusals_are_not_audited(self):
        assert socket_access({"user": AnonymousUser(), "path": "/ws/ops/"}) == (False, False)
        assert Client().get("/api/jobs").status_code == 401
        assert denials() == []
