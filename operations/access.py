"""Access to the dashboard's pages, for `operations` and for the apps that add cards to it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django_htmx.http import HttpResponseClientRedirect

from audit.models import Outcome
from audit.services import audit_record

VIEW = "operations.view_dashboard"
RUN = "operations.run_jobs"
SOURCE = "web"
DENIED = {
    VIEW: "You do not have permission to see the operations dashboard. "
    "Ask an administrator to add you to the Operators or Auditors group.",
    RUN: "You do not have permission to run, cancel or retry jobs. Ask an administrator to add you to the Operators group.",
}


def ops_view(perm: str) -> Callable:
    """Let in active staff with `perm`; send others to the login page, or answer 403 and audit it."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not (user.is_active and user.is_staff):
                login = redirect_to_login(request.get_full_path(), reverse("admin:login"))
                return HttpResponseClientRedirect(login.url) if request.htmx else login
            if not user.has_perm(perm):
                audit_record(
                    action="permission.denied",
                    source=SOURCE,
                    actor=user,
                    target=request.path,
                    outcome=Outcome.DENIED,
                    details={"method": request.method, "permission": perm},
                    request=request,
                )
                return denied(request, DENIED[perm])
            return view(request, *args, **kwargs)

        return never_cache(wrapped)

    return decorator


def denied(request: HttpRequest, message: str) -> HttpResponse:
    if request.htmx:
        return render(request, "operations/denied.html#denied-note", {"message": message}, status=403)
    context = {**admin.site.each_context(request), "title": "Permission denied", "message": message}
    return render(request, "operations/denied.html", context, status=403)


def can_run(request: HttpRequest) -> bool:
    return request.user.has_perm(RUN)
