from __future__ import annotations

import io
import re
from ipaddress import ip_network

import pytest
from asgiref.sync import async_to_sync
from axes.models import AccessAttempt
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.http import HttpResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import reverse

from audit.models import AuditLog, Outcome
from tests.conftest import PASSWORD

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("auditor", "operator"),
    # A small limit keeps the tests short; the address's own limit stays above it, as in production.
    pytest.mark.usefixtures("small_limits"),
]

HOME = "198.51.100.7"
ELSEWHERE = "203.0.113.40"
PROXY = "10.0.0.2"
ACCOUNT_LOCKED = (
    "Too many failed sign-in attempts for this account from your address. Try again in 15 minutes, "
    "or ask an administrator to run"
)
ADDRESS_LOCKED = "Too many failed sign-in attempts from your address. Try again in 15 minutes"


@pytest.fixture
def small_limits():
    with override_settings(AXES_FAILURE_LIMIT=3, CHLOPS_LOGIN_ADDRESS_FAILURE_LIMIT=6):
        yield


def sign_in(username: str, password: str, *, ip: str = HOME, forwarded_for: str | None = None) -> HttpResponse:
    """Sign in through the admin's login form as a browser does: fetch the form, post it back with its CSRF token."""
    meta = {"REMOTE_ADDR": ip, **({"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for else {})}
    client = Client(enforce_csrf_checks=True)
    form = client.get(reverse("admin:login"), **meta)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode()).group(1)
    data = {"username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"}
    return client.post(reverse("admin:login"), data, **meta)


def signed_in(response: HttpResponse) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def fail(username: str, times: int, **where: str) -> None:
    for _ in range(times):
        response = sign_in(username, "not-the-password", **where)
        assert response.status_code in (200, 429)  # the form again, or the lockout page at the limit


class LockoutTests:
    def test_after_the_limit_the_right_password_is_refused_with_a_sentence(self):
        fail("arthur", 3)
        response = sign_in("arthur", PASSWORD)
        assert response.status_code == 429 and not signed_in(response)
        page = " ".join(response.content.decode().split())
        assert ACCOUNT_LOCKED in page
        assert "<code>python manage.py axes_reset_username arthur</code>" in page
        assert response["Retry-After"] == "900"

    def test_the_attempt_that_reaches_the_limit_is_answered_with_the_sentence(self):
        fail("arthur", 2)
        response = sign_in("arthur", "not-the-password")
        assert response.status_code == 429 and ACCOUNT_LOCKED in " ".join(response.content.decode().split())

    def test_below_the_limit_the_right_password_still_signs_in(self):
        fail("arthur", 2)
        assert signed_in(sign_in("arthur", PASSWORD))

    def test_another_user_at_the_same_address_still_signs_in(self):
        fail("arthur", 3)
        assert signed_in(sign_in("olivia", PASSWORD))

    def test_another_user_at_another_address_still_signs_in(self):
        fail("arthur", 3)
        assert signed_in(sign_in("olivia", PASSWORD, ip=ELSEWHERE))

    def test_the_locked_user_still_signs_in_from_another_address(self):
        fail("arthur", 3)
        assert signed_in(sign_in("arthur", PASSWORD, ip=ELSEWHERE))

    def test_an_address_that_rotates_usernames_is_stopped_at_its_own_limit(self):
        for name in ("admin", "root", "ops", "staff", "test", "guest"):
            fail(name, 1)
        response = sign_in("olivia", PASSWORD)
        assert response.status_code == 429
        page = " ".join(response.content.decode().split())
        assert ADDRESS_LOCKED in page and f"<code>python manage.py axes_reset_ip {HOME}</code>" in page
        assert signed_in(sign_in("olivia", PASSWORD, ip=ELSEWHERE))

    def test_rotating_x_forwarded_for_does_not_help_when_no_proxy_is_trusted(self):
        for n in range(3):
            sign_in("arthur", "not-the-password", forwarded_for=f"192.0.2.{n}")
        assert sign_in("arthur", PASSWORD, forwarded_for="192.0.2.99").status_code == 429
        assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {HOME}

    @override_settings(CHLOPS_TRUSTED_PROXIES=[ip_network("10.0.0.0/24")])
    def test_behind_a_trusted_proxy_each_forwarded_client_is_counted_apart(self):
        fail("arthur", 3, ip=PROXY, forwarded_for=HOME)
        assert sign_in("arthur", PASSWORD, ip=PROXY, forwarded_for=HOME).status_code == 429
        assert signed_in(sign_in("arthur", PASSWORD, ip=PROXY, forwarded_for=ELSEWHERE))
        assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {HOME}

    @override_settings(CHLOPS_TRUSTED_PROXIES=[ip_network("10.0.0.0/24")])
    def test_a_client_that_is_not_the_proxy_cannot_forward_for_others(self):
        for n in range(3):
            sign_in("arthur", "not-the-password", forwarded_for=f"192.0.2.{n}, {PROXY}")
        assert sign_in("arthur", PASSWORD, forwarded_for=f"192.0.2.99, {PROXY}").status_code == 429

    def test_the_lockout_is_audited_once_and_each_refusal_as_a_failed_login(self):
        fail("arthur", 3)
        sign_in("arthur", PASSWORD)
        [locked] = AuditLog.objects.filter(action="auth.locked_out")
        assert (locked.target, locked.outcome, locked.source, locked.ip) == ("arthur", Outcome.DENIED, "admin", HOME)
        assert locked.details == {
            "username": "arthur",
            "ip_address": HOME,
            "scope": "account",
            "failures": 3,
            "cool_off_minutes": 15,
        }
        assert AuditLog.objects.filter(action="auth.login_failed", target="arthur").count() == 4
        assert not AuditLog.objects.filter(action="auth.login").exists()

    def test_axes_reset_lets_the_user_in_again(self):
        fail("arthur", 3)
        out = io.StringIO()
        call_command("axes_reset", stdout=out)
        assert "attempts removed" in out.getvalue()
        assert signed_in(sign_in("arthur", PASSWORD))

    def test_axes_reset_username_lets_that_user_in_again(self):
        fail("arthur", 3)
        call_command("axes_reset_username", "arthur", stdout=io.StringIO())
        assert signed_in(sign_in("arthur", PASSWORD))

    def test_under_asgi_the_lockout_is_answered_with_the_sentence(self):
        # Daphne serves the async middleware path, whose call into the lockout response differs.
        fail("arthur", 3, ip="127.0.0.1")  # where AsyncClient's requests come from
        client = AsyncClient(enforce_csrf_checks=True)
        form = async_to_sync(client.get)(reverse("admin:login"))
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode()).group(1)
        data = {"username": "arthur", "password": PASSWORD, "csrfmiddlewaretoken": token}
        response = async_to_sync(client.post)(reverse("admin:login"), data)
        assert response.status_code == 429
        assert "axes_reset_username arthur" in response.content.decode()


class LoginAttemptAdminTests:
    def test_a_superuser_sees_the_attempts_and_deleting_them_lifts_the_lockout(self, client, superuser):
        fail("arthur", 3)
        client.force_login(superuser)
        changelist = reverse("admin:axes_accessattempt_changelist")
        assert "arthur" in client.get(changelist).content.decode()
        attempts = list(AccessAttempt.objects.values_list("pk", flat=True))
        client.post(changelist, {"action": "delete_selected", "_selected_action": attempts, "post": "yes"})
        assert not AccessAttempt.objects.exists()
        assert AuditLog.objects.filter(action="admin.delete", actor_username="root").exists()
        assert signed_in(sign_in("arthur", PASSWORD))

    def test_no_one_else_sees_them_even_with_the_permission(self, client, auditor):
        fail("arthur", 3)
        auditor.user_permissions.add(*Permission.objects.filter(content_type__app_label="axes"))
        client.force_login(auditor)
        assert client.get(reverse("admin:axes_accessattempt_changelist")).status_code == 403
        assert "accessattempt" not in client.get(reverse("admin:index")).content.decode()
