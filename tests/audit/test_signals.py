from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from audit.models import AuditLog, Outcome
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

AGENT = {"HTTP_USER_AGENT": "pytest-browser/1.0", "REMOTE_ADDR": "192.0.2.10"}


def rows(action: str) -> list[AuditLog]:
    return list(AuditLog.objects.filter(action=action).order_by("id"))


class LoginSignalTests:
    def test_login_is_recorded_with_ip_and_user_agent(self, client, auditor):
        client.post(reverse("admin:login"), {"username": "arthur", "password": PASSWORD}, **AGENT)
        [row] = rows("auth.login")
        assert (row.actor_username, row.source, row.outcome) == ("arthur", "admin", Outcome.SUCCESS)
        assert (row.ip, row.user_agent) == ("192.0.2.10", "pytest-browser/1.0")

    def test_failed_login_records_the_username_and_never_the_password(self, client, auditor):
        client.post(reverse("admin:login"), {"username": "arthur", "password": "wrong-guess-123"}, **AGENT)
        [row] = rows("auth.login_failed")
        assert row.outcome == Outcome.FAILURE and row.actor is None
        assert row.target == "arthur" and row.details == {"username": "arthur"}
        assert row.ip == "192.0.2.10"
        assert "wrong-guess-123" not in str(AuditLog.objects.values_list().get(pk=row.pk))

    def test_logout_is_recorded(self, client, auditor):
        client.force_login(auditor)
        client.post(reverse("admin:logout"), **AGENT)
        [row] = rows("auth.logout")
        assert row.actor_username == "arthur" and row.ip == "192.0.2.10"


class AdminChangeSignalTests:
    def test_add_change_and_delete_in_the_admin_are_recorded(self, client, superuser):
        client.force_login(superuser)
        client.post(reverse("admin:auth_group_add"), {"name": "Reviewers"}, **AGENT)
        group = Group.objects.get(name="Reviewers")
        client.post(reverse("admin:auth_group_change", args=[group.pk]), {"name": "Reviewers 2"}, **AGENT)
        client.post(reverse("admin:auth_group_delete", args=[group.pk]), {"post": "yes"}, **AGENT)
        added, changed, deleted = rows("admin.add") + rows("admin.change") + rows("admin.delete")
        assert (added.target, added.source, added.actor_username) == ("Reviewers", "admin", "root")
        assert added.details["content_type"] == "auth.group" and added.details["object_id"] == str(group.pk)
        assert added.details["change_message"] == "Added."
        assert changed.target == "Reviewers 2" and changed.details["change_message"] == "Changed Name."
        assert deleted.target == "Reviewers 2"
        assert (added.ip, added.user_agent) == ("192.0.2.10", "pytest-browser/1.0")

    def test_deleting_several_objects_at_once_records_each(self, client, superuser):
        groups = [Group.objects.create(name=name) for name in ("One", "Two")]
        client.force_login(superuser)
        client.post(
            reverse("admin:auth_group_changelist"),
            {"action": "delete_selected", "_selected_action": [g.pk for g in groups], "post": "yes"},
        )
        assert not Group.objects.filter(name__in=["One", "Two"]).exists()
        assert sorted(row.target for row in rows("admin.delete")) == ["One", "Two"]
