"""Server-side checks of DESIGN §7 for the API; a denied attempt is audited."""

from __future__ import annotations

from rest_framework import permissions

from audit.models import Outcome
from audit.services import audit_record


class HasPerm(permissions.BasePermission):
    perm = ""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_staff and user.has_perm(self.perm):
            return True
        audit_record(
            action="permission.denied",
            actor=user,
            source="api",
            target=request.path,
            outcome=Outcome.DENIED,
            details={"method": request.method, "permission": self.perm},
            request=request._request,
        )
        return False


class CanViewDashboard(HasPerm):
    perm = "operations.view_dashboard"


class CanRunJobs(HasPerm):
    perm = "operations.run_jobs"


class ViewOrRun(permissions.BasePermission):
    """Safe methods need view_dashboard; anything else needs run_jobs."""

    def has_permission(self, request, view) -> bool:
        checker = CanViewDashboard() if request.method in permissions.SAFE_METHODS else CanRunJobs()
        return checker.has_permission(request, view)
