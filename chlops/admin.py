"""The admin site: the home of the product, with Operations listed beside the models."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse

from operations.access import can_view


class ChlopsAdminSite(admin.AdminSite):
    site_header = "CHL Ops"
    site_title = "CHL Ops"
    index_title = "Operations portal"

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
