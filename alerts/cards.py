"""The Alerts page and its cards, and the banner every ops page shows (see operations.cards)."""

from __future__ import annotations

from typing import Any

from alerts import selectors
from alerts.broadcasts import FIRING_CARD, banner_card
from operations import cards

TEMPLATE = "alerts/cards.html"
BANNERS = "alerts/_banners.html"

PAGE = cards.Page(name="alerts", title="Alerts", url_name="alerts:page", order=30)


def banner_context(page: str) -> dict[str, Any]:
    return {"alerts": selectors.alerts_firing(banners=True), "banner_id": banner_card(page), "page_name": page}


def banner(page: str) -> cards.Card:
    """The banner region of one page: its socket's snapshot and every push of alerts carry it."""
    return cards.Card(
        name=banner_card(page),
        template=BANNERS,
        context=lambda: banner_context(page),
        order=0,
        page=page,
        frame=True,
        partial="alert-banners",
    )


def firing_context() -> dict[str, Any]:
    return {"firing": selectors.alerts_firing()}


FIRING = cards.Card(name=FIRING_CARD, template=TEMPLATE, context=firing_context, order=10, page=PAGE.name, wide=True)
