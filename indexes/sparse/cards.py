"""The sparse card of the dashboard."""

from __future__ import annotations

from typing import Any

from indexes.sparse.selectors import CARD, sparse_status
from operations.cards import Card


def sparse_card_context() -> dict[str, Any]:
    return {"sparse": sparse_status()}


SPARSE_CARD = Card(name=CARD, template="indexes/sparse_card.html", context=sparse_card_context, order=60)
