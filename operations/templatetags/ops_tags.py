"""Small filters for the dashboard: state icons, ETA and duration in words, pretty JSON, which tabs to show."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.core.serializers.json import DjangoJSONEncoder

from operations.access import access_allowed

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
