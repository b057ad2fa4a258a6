"""The Alerts page, its history export, rule edits and the banners' acknowledge button (DESIGN §5, §11)."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from alerts import selectors, services, silences
from alerts.broadcasts import FIRING_CARD, banner_card
from alerts.cards import PAGE
from alerts.models import Alert, AlertRule, Metric, Silence
from chlops.exceptions import ChlopsError
from monitoring.metrics.series import MODULES
from operations import cards, fragments
from operations.access import RUN, SUPERUSER, VIEW, can_manage_settings, can_run, ops_view

SOURCE = "web"
TEMPLATE = "alerts/alerts.html"
EXPORT_CAP = 50_000
CSV_FIELDS = ("id", "severity", "state", "module", "rule", "message", "value", "threshold", "fired_at",
              "acknowledged_by", "acknowledged_at", "comment", "resolved_at", "duration_seconds", "silenced_by")  # fmt: skip


def _before(request: HttpRequest) -> int | None:
    raw = request.GET.get("before", "")
    return int(raw) if raw.isdigit() else None  # anything else: the newest page, as the other pages do


def page_context(request: HttpRequest, **extra) -> dict:
    filters = selectors.AlertFilters.from_query(request.GET)
    before = _before(request)
    history = selectors.alert_page(filters, before=before)
    query = filters.query()
    current, expired = selectors.silences_recent(limit=25)
    return {
        **admin.site.each_context(request),
        **fragments.tabs_context(PAGE.name),
        **fragments.system_status_context(),
        "title": "Alerts",
        "firing_html": cards.card_render(cards.get(FIRING_CARD), can_run=can_run(request.user)),
        "history": history.alerts,
        "is_first_page": before is None,
        "older_query": urlencode({**query, "before": history.older}) if history.older else "",
        "filter_query": urlencode(query),
        "filters": filters,
        "severities": selectors.SEVERITIES,
        "states": selectors.STATES,
        "modules": MODULES,
        "rules": list(AlertRule.objects.all()),
        "can_edit_rules": can_manage_settings(request.user),
        "can_run": can_run(request.user),
        "preference": selectors.preference_of(request.user),
        "silence_tables": (("Active and upcoming", current), ("Expired", expired)),
        "metrics": Metric.choices,
        **extra,
    }


@ops_view(VIEW)
@require_GET
def alerts_page(request: HttpRequest) -> HttpResponse:
    return render(request, TEMPLATE, page_context(request))


@ops_view(VIEW)
@require_GET
def alerts_export(request: HttpRequest) -> HttpResponse:
    rows = selectors.alerts_filtered(selectors.AlertFilters.from_query(request.GET))[:EXPORT_CAP]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for alert in rows.iterator(chunk_size=1000):
        found = selectors.alert_json(alert)
        writer.writerow([_cell(found[name]) for name in CSV_FIELDS])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="alerts-{timezone.now():%Y%m%d-%H%M%S}.csv"'
    return response


def _cell(value: object) -> object:
    # A cell a spreadsheet would run as a formula is quoted as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


@ops_view(RUN)
@require_POST
def alert_ack(request: HttpRequest, alert_id: int) -> HttpResponse:
    """Acknowledge from a banner; answer with that page's banners (the push brings them to every other page)."""
    page = cards.page_known(request.POST.get("page"))
    card = cards.get(banner_card(page))
    alert = Alert.objects.filter(pk=alert_id).first()
    if alert is None:
        return HttpResponse(
            cards.card_render(card, can_run=True, context={**card.context(), "error": "That alert no longer exists."}),
            status=404,
        )
    try:
        services.alert_acknowledge(
            alert=alert, actor=request.user, comment=request.POST.get("comment", ""), source=SOURCE
        )
    except ChlopsError as exc:
        return HttpResponse(
            cards.card_render(card, can_run=True, context={**card.context(), "error": exc.message}), status=exc.status
        )
    return HttpResponse(cards.card_render(card, can_run=True))


@ops_view(SUPERUSER)
@require_POST
def rule_save(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(AlertRule, pk=rule_id)
    changes = {name: request.POST.get(name, "") for name in ("threshold", "for_seconds", "clear_threshold", "severity")}
    changes["enabled"] = request.POST.get("enabled") == "true"
    try:
        services.rule_update(rule=rule, changes=changes, actor=request.user, source=SOURCE)
    except ChlopsError as exc:
        return render(
            request, TEMPLATE, page_context(request, rule_error=f"{rule.name}: {exc.message}"), status=exc.status
        )
    return render(request, TEMPLATE, page_context(request, rule_notice=f"Saved {rule.name}."))


@ops_view(RUN)
@require_POST
def silence_save(request: HttpRequest) -> HttpResponse:
    try:
        silences.silence_create(**silences.silence_fields(request.POST), actor=request.user, source=SOURCE)
    except ChlopsError as exc:
        return render(request, TEMPLATE, page_context(request, silence_error=exc.message), status=exc.status)
    return render(request, TEMPLATE, page_context(request, silence_notice="Silence saved."))


@ops_view(RUN)
@require_POST
def silence_end(request: HttpRequest, silence_id: int) -> HttpResponse:
    silence = get_object_or_404(Silence, pk=silence_id)
    try:
        silences.silence_end(silence=silence, actor=request.user, source=SOURCE)
    except ChlopsError as exc:
        return render(request, TEMPLATE, page_context(request, silence_error=exc.message), status=exc.status)
    return render(request, TEMPLATE, page_context(request, silence_notice=f"Silence #{silence.pk} ended."))


@ops_view(VIEW)
@require_POST
def preference_save(request: HttpRequest) -> HttpResponse:
    """Anyone who sees the ops pages chooses what their own screen shows."""
    try:
        services.preference_save(
            user=request.user,
            metrics=request.POST.getlist("metrics"),
            modules=request.POST.getlist("modules"),
            sound=request.POST.get("sound") == "on",
            source=SOURCE,
        )
    except ChlopsError as exc:
        return render(request, TEMPLATE, page_context(request, preference_error=exc.message), status=exc.status)
    return render(request, TEMPLATE, page_context(request, preference_notice="Preferences saved."))
