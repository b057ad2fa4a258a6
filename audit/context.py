"""The request being served, for audit rows written far from the view (admin changes, logins)."""

from __future__ import annotations

from contextvars import ContextVar

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

current_request: ContextVar[HttpRequest | None] = ContextVar("audit_current_request", default=None)


def request_source(request: HttpRequest | None) -> str:
    """Say whether a request came through the admin or the rest of the web interface."""
    if request is None:
        return "system"
    try:
        admin_prefix = reverse("admin:index")
    except NoReverseMatch:
        return "web"
    return "admin" if request.path.startswith(admin_prefix) else "web"
