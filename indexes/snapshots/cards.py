"""The snapshots card of the dashboard."""

from __future__ import annotations

from typing import Any

from indexes.snapshots.selectors import snapshots_list
from operations.cards import Card

SNAPSHOTS_CARD = "snapshots-card"
CARD_ROWS = 20


def snapshots_card_context() -> dict[str, Any]:
    return {"snapshots": list(snapshots_list()[:CARD_ROWS])}


SNAPSHOTS = Card(
    name=SNAPSHOTS_CARD, template="indexes/snapshots_card.html", context=snapshots_card_context, order=55, wide=True
)
