"""The corpus in the admin."""

from __future__ import annotations

from django.contrib import admin, messages

from indexes.models import Entry
from indexes.services.embedding import entries_embedding_retry
from indexes.services.entries import entry_save
from operations.access import can_run


@admin.register(Entry)
class EntryAdmin(admin.ModelAdmin):
    list_display = ("external_id", "kind", "title", "embedding_state", "updated_at")
    list_filter = ("kind", "embedding_state")
    search_fields = ("external_id", "title")
    readonly_fields = (
        "content_hash",
        "created_at",
        "updated_at",
        "embedding_state",
        "embedding_error",
        "embedding_model",
        "embedded_at",
    )
    actions = ("retry_embedding",)
    ordering = ("kind", "external_id")
    list_per_page = 100
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("kind", "external_id", "title", "body", "tags", "metadata")}),
        ("Embedding", {"fields": ("embedding_state", "embedding_error", "embedding_model", "embedded_at")}),
        ("Bookkeeping", {"fields": ("content_hash", "created_at", "updated_at")}),
    )

    def save_model(self, request, obj: Entry, form, change: bool) -> None:
        entry_save(entry=obj, changed=form.changed_data)

    @admin.action(description="Retry embedding", permissions=["run_jobs"])
    def retry_embedding(self, request, queryset) -> None:
        count = entries_embedding_retry(
            ids=queryset.values_list("pk", flat=True), actor=request.user, source="admin", request=request
        )
        self.message_user(
            request, f"{count} entries are pending again; the embed workers will pick them up.", messages.SUCCESS
        )

    def has_run_jobs_permission(self, request) -> bool:
        return can_run(request.user)
