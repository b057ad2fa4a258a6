"""The repositories card of the dashboard."""

from __future__ import annotations

from typing import Any

from indexes.ingest.selectors import CARD, repositories_list
from operations.cards import Card


def ingest_card_context() -> dict[str, Any]:
    return {"repositories": repositories_list()}


INGEST_CARD = Card(name=CARD, template="indexes/ingest_card.html", context=ingest_card_context, order=65)
