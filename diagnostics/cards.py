"""The diagnostics' banner of every ops page: a frame card (operations.cards), as the alert banners are."""

from __future__ import annotations

from typing import Any

from diagnostics.broadcasts import banner_card
from diagnostics.selectors import diagnostics_current
from operations import cards

BANNERS = "diagnostics/_banners.html"


def banner_context(page: str) -> dict[str, Any]:
    return {"diagnostics": diagnostics_current(), "banner_id": banner_card(page)}


def banner(page: str) -> cards.Card:
    return cards.Card(
        name=banner_card(page),
        template=BANNERS,
        context=lambda: banner_context(page),
        order=1,  # below the alert banners
        page=page,
        frame=True,
        partial="diagnostic-banners",
    )
