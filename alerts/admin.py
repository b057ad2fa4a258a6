"""Alerts in the admin, read-only (the evaluator and acknowledgements write them); rules for superusers,
each change through rule_update, so it is validated and audited with its old and new values."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from alerts import services, silences
from alerts.models import Alert, AlertRule, Silence
from chlops.changelists import LargeTableAdmin
from chlops.exceptions import ChlopsError
from monitoring.admin import ModuleFilter
from operations.access import can_run, can_view
from operations.admin import ReadOnlyAdminMixin


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdminMixin, LargeTableAdmin):
    list_display = ("id", "fired_at", "severity", "state", "module", "message", "acknowledged_by", "resolved_at")
    list_display_links = ("id",)
    list_filter = ("severity", "state", ModuleFilter)
    search_fields = ("message",)
    date_hierarchy = "fired_at"
    ordering = ("-id",)
    fields = (
        "rule", "module", "severity", "state", "message", "value", "threshold", "fingerprint", "started_at",
        "fired_at", "resolved_at", "acknowledged_by", "acknowledged_at", "comment", "silenced_by",
    )  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Alert]:
        return super().get_queryset(request).select_related("acknowledged_by", "rule")


class RuleForm(admin.ModelAdmin.form):
    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:
            changes = {name: cleaned.get(name) for name in services.RULE_FIELDS if name in cleaned}
            try:
                services.rule_clean(self.instance, changes)
            except services.RuleInvalid as exc:
                raise ValidationError({exc.extra.get("field") or None: exc.message}) from None
        return cleaned


RULE_FIELDS = (
    "name",
    "metric",
    "module",
    "comparison",
    "threshold",
    "for_seconds",
    "clear_threshold",
    "severity",
    "enabled",
)


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = RuleForm
    list_display = RULE_FIELDS
    list_editable = ()
    fields = RULE_FIELDS
    readonly_fields = ("name", "metric", "module", "comparison")

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return can_view(request.user)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: AlertRule, form, change: bool) -> None:
        rule = AlertRule.objects.get(pk=obj.pk)
        changes = {name: form.cleaned_data[name] for name in services.RULE_FIELDS if name in form.cleaned_data}
        services.rule_update(rule=rule, changes=changes, actor=request.user, source="admin")


@admin.register(Silence)
class SilenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Silences as the Alerts page lists them; opened there or by API, ended early here too (audited)."""

    list_display = ("id", "matchers_text", "starts_at", "ends_at", "ended_early_at", "author", "job", "comment")
    list_filter = ("module", "severity", "metric")
    ordering = ("-id",)
    fields = (
        "rule", "metric", "module", "severity", "starts_at", "ends_at", "ended_early_at", "author", "comment",
        "job", "correlation_id",
    )  # fmt: skip
    readonly_fields = fields
    actions = ("end_silences",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Silence]:
        return super().get_queryset(request).select_related("rule", "author", "job")

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return can_view(request.user)

    def has_run_jobs_permission(self, request: HttpRequest) -> bool:
        return can_run(request.user)

    @admin.action(description="End selected silences now", permissions=["run_jobs"])
    def end_silences(self, request: HttpRequest, queryset: QuerySet[Silence]) -> None:
        ended = 0
        for silence in queryset.order_by("id"):
            try:
                silences.silence_end(silence=silence, actor=request.user, source="admin")
                ended += 1
            except ChlopsError as exc:
                self.message_user(request, f"{silence}: {exc.message}", messages.WARNING)
        if ended:
            self.message_user(request, f"Ended {ended} silence(s).")
