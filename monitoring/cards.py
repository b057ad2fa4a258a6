"""The workers and queues cards: their names, templates and contexts (see operations.cards)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from monitoring import selectors
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
