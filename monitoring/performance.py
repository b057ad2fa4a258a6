"""Read the web's performance over a range: response time quantiles, request and error rates, per module.

Trends compare the second half of the range with the first: both halves are always in the store,
which a window before the range is not for 7 days (roll-ups are kept 8).
"""

from __future__ import annotations

import time
from typing import Any

from chlops.exceptions import ChlopsError
from monitoring.health.insights import change
from monitoring.metrics import clock, reading
from monitoring.metrics.reading import Point
from monitoring.metrics.series import ALL, HOUR, MINUTE, MODULES, TEN_MINUTES

# Seconds, the chart's resolution and the per-module table's: each read stays a few hundred hashes.
RANGES = {
    "1h": (3600, MINUTE, MINUTE),
    "6h": (6 * 3600, MINUTE, TEN_MINUTES),
    "24h": (86400, TEN_MINUTES, HOUR),
    "7d": (7 * 86400, HOUR, HOUR),
}
DEFAULT_RANGE = "1h"
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
STARTED = time.monotonic()  # near enough this process's start: the URLs load it with the first request


class RangeInvalid(ChlopsError):
    status = 400


def range_parse(value: str | None) -> str:
    """The range asked for (1h when none), or RangeInvalid naming the four."""
    if value in (None, ""):
        return DEFAULT_RANGE
    if value not in RANGES:
        raise RangeInvalid(f"Unknown range {value!r}; use one of: {', '.join(RANGES)}.")
    return value


def range_or_default(value: str | None) -> str:
    """The range for a page: anything not offered falls back to the default."""
    return value if value in RANGES else DEFAULT_RANGE


def performance(range_name: str) -> dict[str, Any]:
    """Response time p50/p95/p99, request rate, error rate and uptime over the range, their trends,
    the series the charts draw and a row per module."""
    seconds, width, table_width = RANGES[range_name]
    until = clock.now()
    since = until - seconds
    points = reading.series_points("http", ALL, since=since, until=until + 1, width=width)
    rows = reading.merged_many("http", MODULES, since=since, until=until + 1, width=table_width)
    half = len(points) // 2
    total, first, second = (reading.merged(part) for part in (points, points[:half], points[half:]))
    summary = _summary(total, seconds)
    earlier, later = _summary(first, seconds / 2), _summary(second, seconds / 2)
    return {
        "range": range_name,
        "since": since,
        "until": until,
        "resolution_seconds": width,
        "api_response_time": summary["api_response_time"],
        "request_rate": summary["request_rate"],
        "error_rate": summary["error_rate"],
        "uptime_seconds": round(time.monotonic() - STARTED),
        "trends": {
            "p95": change(later["api_response_time"]["p95"], earlier["api_response_time"]["p95"], metric="p95"),
            "request_rate": change(later["request_rate"], earlier["request_rate"], metric="request rate"),
            "error_rate": change(later["error_rate"], earlier["error_rate"], metric="error rate"),
        },
        "series": _series(points, width),
        "modules": [_module_row(name, point) for name, point in rows.items()],
    }


def _summary(point: Point, seconds: float) -> dict[str, Any]:
    return {
        "api_response_time": {name: _ms(point.sketch.quantile(q)) for name, q in QUANTILES.items()},
        "request_rate": round(point.count / seconds, 4) if seconds else 0.0,
        "error_rate": round(100 * point.errors / point.count, 3) if point.count else 0.0,
    }


def _series(points: list[Point], width: int) -> dict[str, list]:
    return {
        "t": [point.at for point in points],
        **{name: [_ms(point.sketch.quantile(q)) for point in points] for name, q in QUANTILES.items()},
        "request_rate": [round(point.count / width, 4) for point in points],
        "error_rate": [round(100 * point.errors / point.count, 3) if point.count else None for point in points],
    }


def _module_row(name: str, point: Point) -> dict[str, Any]:
    return {"module": name, "requests": point.count, "p95_ms": _ms(point.sketch.quantile(0.95)), "errors": point.errors}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)
