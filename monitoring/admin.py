"""Worker heartbeats and the modules' health in the admin: read-only, the workers and the health rounds write them."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from chlops.changelists import LargeTableAdmin
from monitoring.metrics.series import MODULES
from monitoring.models import HealthEvent, ModuleHealth, WorkerHeartbeat
from operations.admin import ReadOnlyAdminMixin
from operations.templatetags.ops_tags import pretty_json


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


@admin.register(ModuleHealth)
class ModuleHealthAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("module", "status", "since", "response_time_ms", "error_count", "checked_at", "message")
    list_filter = ("status",)
    fields = (
        "module", "status", "since", "message", "response_time_ms", "error_count", "checked_at", "checks_pretty",
        "trend_pretty", "anomalies_pretty",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description="Checks")
    def checks_pretty(self, row: ModuleHealth) -> SafeString:
        return format_html("<pre>{}</pre>", pretty_json(row.checks))

    @admin.display(description="Trend")
    def trend_pretty(self, row: ModuleHealth) -> SafeString:
        return format_html("<pre>{}</pre>", pretty_json(row.trend))

    @admin.display(description="Anomalies")
    def anomalies_pretty(self, row: ModuleHealth) -> SafeString:
        return format_html("<pre>{}</pre>", pretty_json(row.anomalies))


class ModuleFilter(admin.SimpleListFilter):
    """The 13 modules, a closed set: no SELECT DISTINCT over the events."""

    title = "module"
    parameter_name = "module__exact"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(name, name) for name in MODULES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[HealthEvent]) -> QuerySet[HealthEvent]:
        return queryset if self.value() is None else queryset.filter(module=self.value())


@admin.register(HealthEvent)
class HealthEventAdmin(ReadOnlyAdminMixin, LargeTableAdmin):
    """Every change of a module's status, kept 30 days: a flapping module writes many, so no full count."""

    list_display = ("at", "module", "previous", "status", "message")
    list_display_links = ("at",)
    list_filter = (ModuleFilter, "status")
    date_hierarchy = "at"
    ordering = ("-at", "-id")
    fields = ("at", "module", "previous", "status", "message")
    readonly_fields = fields
