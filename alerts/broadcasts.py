"""Push the alerts that changed: the banner of every ops page and the Alerts page's firing alerts."""

from __future__ import annotations

from operations import broadcasts

BANNER_PREFIX = "alert-banners-"
FIRING_CARD = "alerts-firing"


def banner_card(page: str) -> str:
    """The banner region of one page: a card of that page, so its socket's snapshot carries it too."""
    return f"{BANNER_PREFIX}{page}"


_pages: list[str] = []


def pages_set(pages: list[str]) -> None:
    """The pages that show banners (AlertsConfig.ready, once every page is registered)."""
    _pages[:] = pages


def alerts_changed() -> None:
    """After commit, push every page's banners and the Alerts page's firing alerts."""
    for page in _pages:
        broadcasts.card_changed(banner_card(page))
    broadcasts.card_changed(FIRING_CARD)
