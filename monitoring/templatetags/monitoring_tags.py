"""Words and signs of the Monitoring page: trend arrows, percentages, durations."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django import template

from monitoring.health.selectors import ICONS

register = template.Library()

ARROWS = {"up": "↑", "down": "↓", "flat": "→"}


@register.filter
def trend_arrow(direction: str) -> str:
    return ARROWS.get(direction, "")


@register.filter
def percent_change(change: float | None) -> str:
    """+12 % / −3 % from a fraction."""
    if change is None:
        return "—"
    sign = "+" if change > 0 else "−" if change < 0 else "±"
    return f"{sign}{abs(change) * 100:.0f} %"


@register.filter
def ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"


@register.filter
def uptime(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return f"{days} d {hours} h" if days else f"{hours} h {minutes} min" if hours else f"{minutes} min"


@register.filter
def resolution(seconds: int) -> str:
    return {60: "minute", 600: "ten minutes", 3600: "hour"}.get(seconds, f"{seconds} s")


def _label(at: float, *, days: bool) -> tuple[str, str]:
    moment = datetime.fromtimestamp(at, tz=UTC)
    return moment.isoformat(), moment.strftime("%a %H:%M" if days else "%H:%M")


@register.filter
def series_rows(perf: dict[str, Any]) -> list[dict[str, Any]]:
    """The performance chart's points as table rows, newest first."""
    points = perf["series"]
    rows = []
    for i, at in enumerate(points["t"]):
        iso, label = _label(at, days=perf["range"] in ("24h", "7d"))
        rows.append({"iso": iso, "label": label, **{name: points[name][i] for name in ("p50", "p95", "p99", "request_rate", "error_rate")}})
    return rows[::-1]


@register.filter
def family_rows(series: dict[str, Any], family: str) -> list[dict[str, Any]]:
    """One of a module's charts as table rows, newest first: time, count, errors, mean ms.

    A table per chart, not one for all: three charts' columns side by side do not fit a tablet's width.
    """
    numbers = series["families"][family]
    rows = []
    for i, at in enumerate(series["t"]):
        iso, label = _label(at, days=series["range"] in ("24h", "7d"))
        rows.append({"iso": iso, "label": label, "count": numbers["count"][i], "errors": numbers["errors"][i], "mean_ms": numbers["mean_ms"][i]})
    return rows[::-1]


@register.filter
def status_icon(status: str) -> str:
    return ICONS.get(status, "?")


@register.filter
def to_json(value: Any) -> str:
    """JSON for a data-* attribute (the template escapes it): htmx drops the script blocks it swaps in."""
    return json.dumps(value, separators=(",", ":"))


@register.filter
def queue_rows(queue: dict[str, Any]) -> list[dict[str, Any]]:
    """The queue chart's points as table rows, newest first: time, highest and last sample."""
    rows = []
    for i, at in enumerate(queue["t"]):
        iso, label = _label(at, days=queue["range"] in ("24h", "7d"))
        rows.append({"iso": iso, "label": label, "max": queue["max"][i], "last": queue["last"][i]})
    return rows[::-1]
