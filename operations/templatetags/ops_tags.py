"""Small filters for the dashboard: state icons, ETA and duration in words, pretty JSON, which tabs to show."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.safestring import mark_safe

from operations import cards
from operations.access import access_allowed, can_run

register = template.Library()

# Text beside an icon, never colour alone; the icons are hidden from screen readers.
STATE_ICONS = {
    "queued": "◷",
    "running": "▶",
    "cancelling": "◼",
    "succeeded": "✔",
    "failed": "✖",
    "cancelled": "⊘",
}


@register.filter
def state_icon(state: str) -> str:
    return STATE_ICONS.get(state, "•")


@register.filter
def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@register.filter
def eta_text(seconds: int | None) -> str:
    """Say how long is left, or nothing when it is unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"about {seconds} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min left"
    hours, rest = divmod(seconds, 3600)
    return f"about {hours} h {round(rest / 60)} min left"


@register.filter
def page_allowed(page: Any, user: Any) -> bool:
    """Whether `user` may open an ops page: the tab bar shows only those."""
    return access_allowed(user, page.perm)


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, cls=DjangoJSONEncoder)


@register.simple_tag(takes_context=True)
def ops_frame(context: template.Context) -> str:
    """The cards the shared frame shows on the current page (alert banners), as its socket pushes them."""
    current = next((tab["page"].name for tab in context.get("ops_tabs", ()) if tab["current"]), None)
    if current is None:
        return ""
    user = context.get("user")
    able = can_run(user)
    return mark_safe("".join(cards.card_render(card, can_run=able) for card in cards.frame_cards(current)))  # noqa: S308 — rendered templates
