"""The admin site: the home of the product, with Operations listed beside the models."""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse

from operations.access import can_view


class LoginAttemptAdmin(AccessAttemptAdmin):
    """Failed sign-ins that count towards a lockout; deleting one lifts its share. Superusers only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: AccessAttempt | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: AccessAttempt | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: AccessAttempt | None = None) -> bool:
        return False


class ChlopsAdminSite(admin.AdminSite):
    site_header = "CHL Ops"
    site_title = "CHL Ops"
    index_title = "Operations portal"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        # Registered here, not by axes (AXES_ENABLE_ADMIN is off): a module-level register in this
        # module would run while the default site is still being built from it.
        self.register(AccessAttempt, LoginAttemptAdmin)

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        app_list = super().get_app_list(request, app_label)
        if app_label in (None, "operations") and can_view(request.user):
            entry = self._operations_entry()
            own = next((app for app in app_list if app["app_label"] == "operations"), None)
            if own is None:
                app_list.insert(0, entry)
            else:
                # One "Operations" section, not two: the dashboard first, then jobs and uploads.
                own["models"].insert(0, entry["models"][0])
                app_list.remove(own)
                app_list.insert(0, own)
        return app_list

    def _operations_entry(self) -> dict:
        url = reverse("ops:dashboard")
        return {
            "name": "Operations",
            "app_label": "ops",
            "app_url": url,
            "has_module_perms": True,
            "models": [
                {
                    "name": "Dashboard",
                    "object_name": "Dashboard",
                    "admin_url": url,
                    "view_only": True,
                    "perms": {"view": True},
                }
            ],
        }
