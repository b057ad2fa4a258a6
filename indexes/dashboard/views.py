"""Dashboard views of the index card (start a reindex) and the search card (results inline)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from chlops.exceptions import ChlopsError
from indexes.dashboard.cards import INDEX_CARD, SEARCH_CARD, search_card_context
from indexes.search import search, search_params_parse
from operations import cards, services
from operations.access import RUN, VIEW, ops_view


@ops_view(RUN)
@require_POST
def reindex_start(request: HttpRequest) -> HttpResponse:
    return cards.card_job_started(
        INDEX_CARD, lambda: services.job_start(type="reindex", params={}, actor=request.user, source="web")
    )


@ops_view(VIEW)
@require_GET
def search_results(request: HttpRequest) -> HttpResponse:
    context = {**search_card_context(), "query": request.GET}
    status = 200
    try:
        context["search"] = search(**search_params_parse(request.GET))
    except ChlopsError as exc:
        context["error"], status = exc.message, exc.status
    return render(request, f"indexes/search_card.html#{SEARCH_CARD}-results", context, status=status)
