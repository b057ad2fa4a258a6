"""The Monitoring page and a module's page: custom admin views that read and render (DESIGN §5).

Filter, sort and range come from the query string, so a choice is kept in the URL; a value that is not
offered falls back to the default rather than failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from chlops.exceptions import ChlopsError
from monitoring import performance, services
from monitoring.health import selectors as health
from monitoring.health.modules import UnknownModule, module_get
from monitoring.health.selectors import ModuleView, Overview
from monitoring.health.services import INFRA_CARDS, OVERVIEW_CARD, module_card
from monitoring.metrics.series import CRITICAL
from monitoring.status.cache import cleared_sentence
from operations import cards, fragments
from operations.access import RUN, SOURCE, VIEW, can_run, ops_view

PAGE = "monitoring"
STATUSES = {"all": "All", "healthy": "Healthy", "degraded": "Degraded", "down": "Down"}
SORTS = {"name": "Name", "status": "Status", "response": "Response time"}


@dataclass(frozen=True)
class ModuleChoice:
    """Which module cards show, in what order: ?status=all|healthy|degraded|down&sort=name|status|response."""

    status: str = "all"
    sort: str = "name"

    @classmethod
    def from_query(cls, query: Any) -> ModuleChoice:
        status, sort = query.get("status"), query.get("sort")
        return cls(status=status if status in STATUSES else "all", sort=sort if sort in SORTS else "name")

    def shows(self, view: ModuleView) -> bool:
        return self.status == "all" or view.status == self.status

    def ordered(self, views: list[ModuleView]) -> list[ModuleView]:
        if self.sort == "status":
            return sorted(views, key=lambda v: (v.rank, v.module.title))
        if self.sort == "response":
            return sorted(views, key=lambda v: (v.response_time_ms is None, -(v.response_time_ms or 0), v.module.title))
        return sorted(views, key=lambda v: v.module.title)


def module_cards(overview: Overview, choice: ModuleChoice, *, can_act: bool) -> list[dict[str, Any]]:
    """Each module's card as its partial renders it (the same HTML a push carries), in the chosen order."""
    return [
        {
            "name": view.name,
            "shown": choice.shows(view),
            "html": cards.card_render(cards.get(module_card(view.name)), can_run=can_act, context={"view": view}),
        }
        for view in choice.ordered(overview.modules)
    ]


def page_context(request: HttpRequest, title: str) -> dict[str, Any]:
    range_name = performance.range_or_default(request.GET.get("range"))
    return {
        **admin.site.each_context(request),
        **fragments.tabs_context(PAGE),
        "title": title,
        "range": range_name,
        "ranges": list(performance.RANGES),
    }


@ops_view(VIEW)
@require_GET
def monitoring_page(request: HttpRequest) -> HttpResponse:
    choice = ModuleChoice.from_query(request.GET)
    overview = health.health_overview()
    can_act = can_run(request.user)
    context = page_context(request, "Monitoring")
    modules = module_cards(overview, choice, can_act=can_act)
    context.update(
        {
            "overview_html": cards.card_render(cards.get(OVERVIEW_CARD), can_run=can_act, context={"overview": overview}),
            "infra": [cards.card_render(cards.get(name), can_run=can_act) for name in INFRA_CARDS],
            "modules": modules,
            "shown_count": sum(1 for item in modules if item["shown"]),
            "statuses": STATUSES,
            "sorts": SORTS,
            **performance_context(request, context["range"]),
        }
    )
    return render(request, "monitoring/monitoring.html", context)


def performance_context(request: HttpRequest, range_name: str) -> dict[str, Any]:
    try:
        perf = performance.performance(range_name)
    except performance.MetricsUnavailable as exc:
        perf, unavailable = None, exc.message  # the page still answers, and says why there are no charts
    else:
        unavailable = ""
    return {
        "perf": perf,
        "unavailable": unavailable,
        "summaries": performance.summaries(perf) if perf else {},
        "critical": CRITICAL,
        "choice": ModuleChoice.from_query(request.GET),
        "range": range_name,
        "ranges": list(performance.RANGES),
    }


@ops_view(VIEW)
@require_GET
def performance_section(request: HttpRequest) -> HttpResponse:
    """The performance section alone, for a range picked on the page (and its refresh every minute)."""
    range_name = performance.range_or_default(request.GET.get("range"))
    return render(request, "monitoring/_performance.html", performance_context(request, range_name))


@ops_view(VIEW)
@require_GET
def module_page(request: HttpRequest, name: str) -> HttpResponse:
    try:
        detail = health.module_detail(name)
    except UnknownModule as exc:
        raise Http404(exc.message) from None
    view = detail["view"]
    context = page_context(request, f"{view.module.title} module")
    context.update(
        {
            "view": view,
            "detail": detail,
            "card_html": cards.card_render(cards.get(module_card(name)), can_run=can_run(request.user), context={"view": view}),
            **module_series_context(name, context["range"]),
        }
    )
    return render(request, "monitoring/module.html", context)


def module_series_context(name: str, range_name: str) -> dict[str, Any]:
    try:
        return {"series": performance.module_performance(name, range_name), "unavailable": ""}
    except performance.MetricsUnavailable as exc:
        return {"series": None, "unavailable": exc.message}


@ops_view(VIEW)
@require_GET
def module_charts(request: HttpRequest, name: str) -> HttpResponse:
    """A module's charts alone, for a range picked on its page."""
    try:
        module = module_get(name)
    except UnknownModule as exc:
        raise Http404(exc.message) from None
    range_name = performance.range_or_default(request.GET.get("range"))
    context = {
        "view": ModuleView(module=module),
        **module_series_context(name, range_name),
        "range": range_name,
        "ranges": list(performance.RANGES),
    }
    return render(request, "monitoring/_module_charts.html", context)


@ops_view(RUN)
@require_POST
def cache_clear(request: HttpRequest) -> HttpResponse:
    """The Cache card's Clear cache (after the page's confirmation): the card answers with what was removed."""
    try:
        removed = services.cache_clear(actor=request.user, source=SOURCE)
    except ChlopsError as exc:
        return cards.card_response(services.CACHE_CARD, status=exc.status, notice=exc.message, notice_error=True)
    return cards.card_response(services.CACHE_CARD, notice=cleared_sentence(removed))
