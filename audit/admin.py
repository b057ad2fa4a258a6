"""The auditors' admin: read, filter, search and export the audit log; nobody can change it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

from asgiref.sync import sync_to_async
from django.contrib import admin
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.html import format_html

from audit.filters import ActionFilter, ActorFilter
from audit.models import AuditLog
from audit.services import auditlog_export_stream
from chlops.changelists import LargeTableAdmin


@admin.register(AuditLog)
class AuditLogAdmin(LargeTableAdmin):
    list_display = ("id", "created_at", "actor_username", "source", "action", "target", "outcome", "ip")
    list_display_links = ("id", "created_at")
    list_filter = (ActorFilter, ActionFilter, "source", "outcome", ("created_at", admin.DateFieldListFilter))
    date_hierarchy = "created_at"
    search_fields = ("actor_username", "action", "target")
    search_help_text = "Search usernames, actions and targets, or paste a correlation id."
    ordering = ("-created_at", "-id")
    list_per_page = 100
    list_max_show_all = 500
    actions = ["export_csv"]
    fieldsets = (
        (None, {"fields": ("id", "created_at", "actor_display", "source", "action", "target", "outcome")}),
        ("Request", {"fields": ("ip", "user_agent", "correlation_id")}),
        ("Details", {"fields": ("details_pretty",)}),
        ("Hash chain", {"fields": ("prev_hash", "hash")}),
    )
    readonly_fields = ("id", "actor_display", "details_pretty")

    # View-only for everyone, superusers included; the database refuses the rest anyway.
    def has_view_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return request.user.has_perm("audit.view_auditlog")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("audit.export_auditlog")

    # Each refusal names its permission; audit.middleware records it as a permission.denied row.
    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied("audit.view_auditlog")
        return super().changelist_view(request, extra_context)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        raise PermissionDenied("audit.add_auditlog")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied("audit.change_auditlog")
        if not self.has_view_permission(request):
            raise PermissionDenied("audit.view_auditlog")
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        raise PermissionDenied("audit.delete_auditlog")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        try:
            correlation_id = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(correlation_id=correlation_id), False

    @admin.display(description="actor")
    def actor_display(self, row: AuditLog) -> str:
        if row.actor_id is None:
            return "system"
        return f"{row.actor_username} (user #{row.actor_id})"

    @admin.display(description="details")
    def details_pretty(self, row: AuditLog) -> str:
        text = json.dumps(row.details, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre class="audit-details">{}</pre>', text)

    @admin.action(description="Export selected/filtered rows as CSV", permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet) -> StreamingHttpResponse:
        select_across = request.POST.get("select_across") == "1"
        scope = {
            "filters": {key: value for key, value in request.GET.items()},
            "select_across": select_across,
            "selected": None if select_across else len(request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)),
        }
        text = auditlog_export_stream(queryset=queryset, actor=request.user, request=request, format="csv", scope=scope)
        # Under daphne a sync iterator would be read whole into memory before sending; an async one streams.
        content = _async_iter(text) if isinstance(request, ASGIRequest) else text
        response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
        return response


async def _async_iter(iterator: Iterator[str]):
    done = object()
    step = sync_to_async(next, thread_sensitive=True)
    while (item := await step(iterator, done)) is not done:
        yield item
