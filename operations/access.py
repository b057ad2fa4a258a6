"""Who may see and run what (DESIGN §7): one check per permission for pages, the API and the websocket."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django_htmx.http import HttpResponseClientRedirect

from audit.services import audit_denied

VIEW = "operations.view_dashboard"
RUN = "operations.run_jobs"
# Not a permission any group can be given: credentials, peers and the Settings page are superusers' (DESIGN §7).
SUPERUSER = "superuser"
# What another CHL Ops instance calls /api/sync/* with: a token of a user in the Peers group, who need not be staff.
SYNC = "indexes.sync_peers"
SOURCE = "web"
DENIED = {
    VIEW: "You do not have permission to see the operations dashboard. "
    "Ask an administrator to add you to the Operators or Auditors group.",
    RUN: "You do not have permission to run, cancel or retry jobs. Ask an administrator to add you to the Operators group.",
    SUPERUSER: "Only a superuser may see and change settings, credentials and peers. Ask a superuser to do this.",
    SYNC: "Only another CHL Ops instance may call the sync API: use a token of a user in the Peers group.",
}


def access_allowed(user: Any, perm: str) -> bool:
    """Say whether `user` is active staff holding `perm` (a peer's account for SYNC, a superuser for
    SUPERUSER): the one rule behind every check below."""
    if not (user is not None and getattr(user, "is_authenticated", False) and user.is_active):
        return False
    if perm == SYNC:
        return user.has_perm(perm)
    if not user.is_staff:
        return False
    return user.is_superuser if perm == SUPERUSER else user.has_perm(perm)


def can_view(user: Any) -> bool:
    """Say whether `user` may see the ops pages, jobs, workers and health."""
    return access_allowed(user, VIEW)


def can_run(user: Any) -> bool:
    """Say whether `user` may run, cancel and retry jobs and control workers."""
    return access_allowed(user, RUN)


def access_check(request: HttpRequest, perm: str, *, source: str, channel: str = "http") -> bool:
    """Say whether request's user holds `perm`; audit the refusal of a logged-in user, once."""
    if access_allowed(request.user, perm):
        return True
    if request.user.is_authenticated:
        audit_denied(request=request, permission=perm, source=source, target=request.path, details={"channel": channel})
    return False


def can_manage_settings(user: Any) -> bool:
    """Say whether `user` may see and change credentials, peers and the Settings page."""
    return access_allowed(user, SUPERUSER)


def socket_access(scope: dict[str, Any], perm: str = VIEW) -> tuple[bool, bool]:
    """Say whether a websocket's user may watch (a page that needs `perm`) and may run jobs; audit the
    refusal of a logged-in user."""
    if not access_check(handshake_request(scope), perm, source=SOURCE, channel="websocket"):
        return False, False
    return True, can_run(scope.get("user"))


def handshake_request(scope: dict[str, Any]) -> HttpRequest:
    """The websocket's opening handshake as the HTTP GET it is, so that its refusal is audited like any other."""
    request = HttpRequest()
    request.method = "GET"
    request.path = request.path_info = scope.get("path", "")
    request.user = scope.get("user")
    request.META = {
        "REQUEST_METHOD": "GET",
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "REMOTE_ADDR": (scope.get("client") or [None])[0],
        # As Django's ASGI handler names them, for whatever reads the client's address or agent.
        **{
            "HTTP_" + name.decode("latin-1").upper().replace("-", "_"): value.decode("latin-1")
            for name, value in scope.get("headers", [])
        },
    }
    return request


def ops_view(perm: str) -> Callable:
    """Let in active staff with `perm`; send others to the login page, or answer 403 and audit it."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not (user.is_active and user.is_staff):
                login = redirect_to_login(request.get_full_path(), reverse("admin:login"))
                return HttpResponseClientRedirect(login.url) if request.htmx else login
            if not access_check(request, perm, source=SOURCE):
                return denied(request, DENIED[perm])
            return view(request, *args, **kwargs)

        return never_cache(wrapped)

    return decorator


def denied(request: HttpRequest, message: str) -> HttpResponse:
    if request.htmx:
        return render(request, "operations/denied.html#denied-note", {"message": message}, status=403)
    context = {**admin.site.each_context(request), "title": "Permission denied", "message": message}
    return render(request, "operations/denied.html", context, status=403)
