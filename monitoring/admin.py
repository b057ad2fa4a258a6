"""Worker heartbeats in the admin: read-only, the workers write them."""

from __future__ import annotations

from django.contrib import admin

from monitoring.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = (
        "hostname",
        "kind",
        "state",
        "gpu",
        "processed",
        "failed",
        "load",
        "version",
        "up_since",
        "last_seen",
    )
    list_filter = ("state", "kind", "gpu")
    search_fields = ("hostname",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
