"""Protection against password guessing, on django-axes: what counts towards a lockout, and what the locked-out are told."""

from __future__ import annotations

import math
import shlex
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

ACCOUNT = "account"  # this username from this address
ADDRESS = "address"  # this address, whichever username it tries


class LoginAttemptHandler(AxesDatabaseHandler):
    """Axes' database handler, holding a username at one address to AXES_FAILURE_LIMIT and the address
    itself, across all the usernames it tries, to the higher CHLOPS_LOGIN_ADDRESS_FAILURE_LIMIT."""

    def failure_counts(self, request: HttpRequest, credentials: dict | None = None) -> tuple[int, int]:
        """Failures within the cool-off of this username from this address, and of this address for any username."""
        recent = AccessAttempt.objects.filter(
            ip_address=request.axes_ip_address, attempt_time__gte=get_cool_off_threshold(request)
        )
        username = get_client_username(request, credentials)
        return _failures(recent.filter(username=username)), _failures(recent)

    def lockout_scope(self, request: HttpRequest, credentials: dict | None = None) -> str | None:
        """ACCOUNT or ADDRESS when this sign-in is locked out, by the one limit it reached; else None."""
        pair, address = self.failure_counts(request, credentials)
        if pair >= get_failure_limit(request, credentials):
            return ACCOUNT
        if address >= settings.CHLOPS_LOGIN_ADDRESS_FAILURE_LIMIT:
            return ADDRESS
        return None

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        pair, address = self.failure_counts(request, credentials)
        if address >= settings.CHLOPS_LOGIN_ADDRESS_FAILURE_LIMIT:
            # Axes holds one number to one limit: an address that used up its own limit counts as full.
            return max(pair, get_failure_limit(request, credentials))
        return pair


def _failures(attempts: Any) -> int:
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


def lockout_response(request: HttpRequest, *args: Any) -> HttpResponse:
    """Answer a locked-out sign-in with the login page's look, a sentence, and when to try again."""
    # Axes 8.3.1's async middleware passes its other arguments shifted by one; the request carries them anyway.
    credentials = getattr(request, "axes_credentials", None)
    username = get_client_username(request, credentials) or ""
    scope = LoginAttemptHandler().lockout_scope(request, credentials) or ACCOUNT
    cool_off = get_cool_off(request)
    minutes = math.ceil(cool_off.total_seconds() / 60)
    if scope == ACCOUNT and username:
        reason = "Too many failed sign-in attempts for this account from your address."
        command = f"python manage.py axes_reset_username {shlex.quote(username)}"
    else:
        reason = "Too many failed sign-in attempts from your address."
        command = f"python manage.py axes_reset_ip {request.axes_ip_address}"
    context = {
        **admin.site.each_context(request),
        "title": "Sign-in locked",
        "reason": reason,
        "minutes": minutes,
        "command": command,
        "login_url": reverse("admin:login"),
    }
    response = render(request, "admin/lockout.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
