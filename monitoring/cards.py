"""Monitoring's cards: workers and queues on the Operations page; the overall health and the 13
modules on the Monitoring page (see operations.cards)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from monitoring import performance, selectors
from monitoring.health import selectors as health
from monitoring.health.modules import ALL as MODULES
from monitoring.health.services import OVERVIEW_CARD, module_card
from monitoring.status import cache, database
from monitoring.status import workers as worker_status
from operations import cards
from operations import workers as control

TEMPLATE = "monitoring/cards.html"
START_HINT = "celery -A chlops worker -n extra@%h -Q jobs,embed,control"


def workers_card_context() -> dict[str, Any]:
    rows = selectors.worker_list()
    return {
        "workers": rows,
        "online": [row for row in rows if row.state != "offline"],
        "drain": control.drain_active(),
        "start_hint": START_HINT,
        "offline_after": settings.CHLOPS_WORKER_OFFLINE_SECONDS,  # within this long of its last beat
    }


def queues_card_context() -> dict[str, Any]:
    return {"overview": selectors.queues_overview()}


WORKERS = cards.Card(name="workers-card", template=TEMPLATE, context=workers_card_context, order=20, wide=True)
QUEUES = cards.Card(name="queues-card", template=TEMPLATE, context=queues_card_context, order=30)


# --- The Monitoring page ----------------------------------------------------------------------

PAGE = cards.Page(name="monitoring", title="Monitoring", url_name="monitoring:page", order=20)
HEALTH_TEMPLATE = "monitoring/health_cards.html"


def overview_card_context() -> dict[str, Any]:
    return {"overview": health.health_overview()}


def module_card_context(name: str) -> dict[str, Any]:
    return {"view": health.health_overview().module(name)}


OVERVIEW = cards.Card(
    name=OVERVIEW_CARD, template=HEALTH_TEMPLATE, context=overview_card_context, order=10, page=PAGE.name
)
MODULE_CARDS = tuple(
    cards.Card(
        name=module_card(module.name),
        template=HEALTH_TEMPLATE,
        context=lambda name=module.name: module_card_context(name),
        order=20 + position,
        page=PAGE.name,
    )
    for position, module in enumerate(MODULES)
)


# --- The infrastructure cards of the Monitoring page (issue 10), pushed after each health round ----

INFRA_TEMPLATE = "monitoring/infra_cards.html"


def database_card_context() -> dict[str, Any]:
    try:
        return {"db": database.database_overview(performance.DEFAULT_RANGE), "unavailable": ""}
    except performance.MetricsUnavailable as exc:
        return {"db": None, "unavailable": exc.message}


DATABASE = cards.Card(name="database-card", template=INFRA_TEMPLATE, context=database_card_context, order=60, page=PAGE.name)


def cache_card_context() -> dict[str, Any]:
    try:
        return {"cache": cache.cache_overview(), "unavailable": ""}
    except performance.MetricsUnavailable as exc:
        return {"cache": None, "unavailable": exc.message}


CACHE = cards.Card(name="cache-card", template=INFRA_TEMPLATE, context=cache_card_context, order=61, page=PAGE.name)


def worker_status_card_context() -> dict[str, Any]:
    try:
        return {"status": worker_status.worker_status(performance.DEFAULT_RANGE), "unavailable": ""}
    except performance.MetricsUnavailable as exc:
        return {"status": None, "unavailable": exc.message}


WORKER_STATUS = cards.Card(
    name="worker-status-card", template=INFRA_TEMPLATE, context=worker_status_card_context, order=62, page=PAGE.name
)
INFRA_CARDS = (DATABASE, CACHE, WORKER_STATUS)
