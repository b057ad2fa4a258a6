"""Push the diagnostics' banner of every ops page (a frame card per page, as the alert banners)."""

from __future__ import annotations

from operations import broadcasts

BANNER_PREFIX = "diagnostic-banners-"


def banner_card(page: str) -> str:
    return f"{BANNER_PREFIX}{page}"


_pages: list[str] = []


def pages_set(pages: list[str]) -> None:
    """The pages that show the banners (DiagnosticsConfig.ready, once every page is registered)."""
    _pages[:] = pages


def diagnostics_changed() -> None:
    """After commit, push every page's diagnostics banner."""
    for page in _pages:
        broadcasts.card_changed(banner_card(page))
