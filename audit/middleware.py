"""Remember the request so that audit rows written deeper down know its IP and user agent."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from audit.context import current_request, request_source
from audit.services import audit_denied


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        # Every 403 a view raises (the admin's included) is a denied attempt, and DESIGN §7 audits those.
        if isinstance(exception, PermissionDenied) and not getattr(request, "audit_denied_recorded", False):
            match = request.resolver_match
            audit_denied(
                request=request,
                permission=str(exception),
                source=request_source(request),
                details={"view": match.view_name if match else None},
            )
