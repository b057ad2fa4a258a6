"""Server-side checks of DESIGN §7 for the API, through operations.access; a denied attempt is audited."""

from __future__ import annotations

from rest_framework import permissions

from operations.access import RUN, SUPERUSER, SYNC, VIEW, access_check

SOURCE = "api"


class HasPerm(permissions.BasePermission):
    perm = ""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False  # DRF answers 401: nobody to refuse yet
        return access_check(request._request, self.perm, source=SOURCE)


class CanViewDashboard(HasPerm):
    perm = VIEW


class CanRunJobs(HasPerm):
    perm = RUN


class IsSuperuser(HasPerm):
    perm = SUPERUSER


class IsPeer(HasPerm):
    """Another CHL Ops instance, by a token of a user in the Peers group (DESIGN §7)."""

    perm = SYNC


class ViewOrRun(permissions.BasePermission):
    """Safe methods need view_dashboard; anything else needs run_jobs."""

    def has_permission(self, request, view) -> bool:
        checker = CanViewDashboard() if request.method in permissions.SAFE_METHODS else CanRunJobs()
        return checker.has_permission(request, view)
