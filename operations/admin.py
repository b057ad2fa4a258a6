"""Jobs, uploads and API tokens in the admin: read-only records, actions that call the services."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from chlops.changelists import LargeTableAdmin, distinct_values
from chlops.exceptions import ChlopsError
from operations import services, tokens
from operations.access import can_run
from operations.models import ApiToken, Job, JobHistory, Upload
from operations.templatetags.ops_tags import pretty_json, state_icon

SOURCE = "admin"


class ReadOnlyAdminMixin:
    """Records written by services only: they can be looked at, never added, edited or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class JobHistoryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = JobHistory
    fields = ("at", "kind", "state", "phase", "message", "actor")
    readonly_fields = fields
    extra = 0
    show_change_link = False


class JobTypeFilter(admin.SimpleListFilter):
    """The types that have jobs, found by hopping through the type index instead of SELECT DISTINCT."""

    title = "type"
    parameter_name = "type__exact"  # the parameter Django's own field filter used: old links keep working
    limit = 100

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(name, name) for name in distinct_values(Job, column="type", limit=self.limit)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        return queryset if self.value() is None else queryset.filter(type=self.value())


@admin.register(Job)
class JobAdmin(ReadOnlyAdminMixin, LargeTableAdmin):
    list_display = (
        "id",
        "type",
        "state_label",
        "progress_label",
        "phase",
        "requested_by",
        "source",
        "created_at",
        "finished_at",
    )
    list_display_links = ("id", "type")
    list_filter = ("state", JobTypeFilter, "source", "requested_by")
    list_select_related = ("requested_by",)
    # Newest first, as ids go; by the date so that each filter's (column, created_at) index serves it.
    ordering = ("-created_at", "-id")
    search_fields = ("id", "correlation_id")  # interpreted by get_search_results, which uses the indexes
    search_help_text = "Search by job id or correlation id."
    date_hierarchy = "created_at"
    actions = ("cancel_jobs", "retry_jobs")
    inlines = (JobHistoryInline,)
    fieldsets = (
        (None, {"fields": ("type", "state_label", "phase", "progress_label", "dashboard_link")}),
        ("Request", {"fields": ("requested_by", "source", "correlation_id", "retry_of", "lock_key", "queue")}),
        (
            "Timing",
            {"fields": ("created_at", "started_at", "finished_at", "cancel_requested_at", "heartbeat_at", "worker")},
        ),
        ("Parameters and outcome", {"fields": ("params_pretty", "result_pretty", "error")}),
    )
    readonly_fields = (
        "type", "state_label", "phase", "progress_label", "dashboard_link", "requested_by", "source", "correlation_id",
        "retry_of", "lock_key", "queue", "created_at", "started_at", "finished_at", "cancel_requested_at",
        "heartbeat_at", "worker", "params_pretty", "result_pretty", "error",
    )  # fmt: skip

    def has_run_jobs_permission(self, request: HttpRequest) -> bool:
        return can_run(request.user)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip().lstrip("#")
        if not term:
            return queryset, False
        if term.isdigit():
            return queryset.filter(pk=int(term)), False
        try:
            return queryset.filter(correlation_id=uuid.UUID(term)), False
        except ValueError:
            return queryset.none(), False

    @admin.display(description="State", ordering="state")
    def state_label(self, job: Job) -> str:
        return f"{state_icon(job.state)} {job.state}"

    @admin.display(description="Progress")
    def progress_label(self, job: Job) -> str:
        if job.percent is None:
            return f"{job.done}" if job.done else "—"
        return f"{job.percent:.0f}% ({job.done} of {job.total})" if job.total else f"{job.percent:.0f}%"

    @admin.display(description="Live view")
    def dashboard_link(self, job: Job) -> SafeString:
        return format_html(
            '<a href="{}">Open in the operations dashboard</a>', reverse("ops:job-detail", args=[job.pk])
        )

    @admin.display(description="Parameters")
    def params_pretty(self, job: Job) -> SafeString:
        return format_html("<pre>{}</pre>", pretty_json(job.params))

    @admin.display(description="Result")
    def result_pretty(self, job: Job) -> SafeString | str:
        return format_html("<pre>{}</pre>", pretty_json(job.result)) if job.result is not None else "—"

    @admin.action(description="Cancel selected jobs", permissions=["run_jobs"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._each(request, queryset, services.job_cancel, done="Asked {n} job(s) to stop.")

    @admin.action(description="Retry selected jobs", permissions=["run_jobs"])
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._each(request, queryset, services.job_retry, done="Started {n} retry job(s).")

    def _each(self, request: HttpRequest, queryset: QuerySet[Job], service, *, done: str) -> None:
        succeeded = 0
        for job in queryset.order_by("id"):
            try:
                service(job=job, actor=request.user, source=SOURCE)
            except ChlopsError as exc:
                self.message_user(request, f"{job}: {exc.message}", messages.ERROR)
            else:
                succeeded += 1
        if succeeded:
            self.message_user(request, done.format(n=succeeded), messages.SUCCESS)


@admin.register(Upload)
class UploadAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "size", "uploaded_by", "created_at", "id")
    list_select_related = ("uploaded_by",)
    list_filter = ("uploaded_by",)
    search_fields = ("name", "=sha256")
    fields = ("id", "name", "size", "sha256", "uploaded_by", "created_at")
    readonly_fields = fields


class ApiTokenAddForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ("user", "name")
        help_texts = {"name": "What the token is for, e.g. 'nightly export cron'."}


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "user")
    list_select_related = ("user",)
    search_fields = ("prefix", "name", "user__username")
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke_tokens",)
    form = ApiTokenAddForm

    # Credentials are for superusers only (DESIGN §7).
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> tuple[str, ...]:
        return () if obj is None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        token, raw = tokens.token_create(user=obj.user, name=obj.name, actor=request.user, source=SOURCE)
        obj.pk, obj.prefix, obj.digest, obj.created_at = token.pk, token.prefix, token.digest, token.created_at
        self.message_user(
            request,
            f"API token for {obj.user.get_username()}: {raw} — copy it now; it is stored hashed and will not be shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        active = list(queryset.filter(revoked_at__isnull=True).select_related("user"))
        for token in active:
            tokens.token_revoke(token=token, actor=request.user, source=SOURCE)
        self.message_user(request, f"Revoked {len(active)} token(s).", messages.SUCCESS)
