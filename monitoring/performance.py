"""Read the web's performance over a range: response time quantiles, request and error rates, uptime,
per module.

Trends compare the second half of the range with the first: both halves are always in the store,
which a window before the range is not for 7 days (roll-ups are kept 8). Uptime is twofold: how long
this web process has run (the seed's `uptime_seconds`), and the share of the range in which no
critical module was down (`uptime_percent`, from the stored changes of status), which has the trend.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import redis

from monitoring.health import selectors as health
from monitoring.health.insights import change
from monitoring.metrics import clock, reading, series
from monitoring.metrics.ranges import (  # noqa: F401 — the pages and the API read them from here
    DEFAULT_RANGE,
    RANGES,
    UNAVAILABLE,
    MetricsUnavailable,
    RangeInvalid,
    range_or_default,
    range_parse,
)
from monitoring.metrics.reading import Point
from monitoring.metrics.series import ALL, MINUTE, MODULES, TEN_MINUTES

QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
STARTED = time.monotonic()  # near enough this process's start: the URLs load it with the first request


def performance(range_name: str) -> dict[str, Any]:
    """Response time p50/p95/p99, request rate, error rate and uptime over the range, their trends,
    the series the charts draw and a row per module."""
    seconds, width, table_width = RANGES[range_name]
    until = clock.now()
    since = until - seconds
    try:
        points = reading.series_points("http", ALL, since=since, until=until + 1, width=width)
        rows = reading.merged_many("http", MODULES, since=since, until=until + 1, width=table_width)
    except redis.RedisError:
        raise MetricsUnavailable(UNAVAILABLE) from None
    half = len(points) // 2
    total, first, second = (reading.merged(part) for part in (points, points[:half], points[half:]))
    summary = _summary(total, seconds)
    earlier, later = _summary(first, seconds / 2), _summary(second, seconds / 2)
    start, middle, end = (_when(at) for at in (since, points[half].at if points else since + seconds / 2, until))
    down = health.outages(since=start, until=end)
    return {
        "range": range_name,
        "since": since,
        "until": until,
        "resolution_seconds": width,
        "api_response_time": summary["api_response_time"],
        "request_rate": summary["request_rate"],
        "error_rate": summary["error_rate"],
        "uptime_seconds": round(time.monotonic() - STARTED),
        "uptime_percent": down.uptime(start, end),
        "trends": {
            "p95": change(later["api_response_time"]["p95"], earlier["api_response_time"]["p95"], metric="p95"),
            "request_rate": change(later["request_rate"], earlier["request_rate"], metric="request rate"),
            "error_rate": change(later["error_rate"], earlier["error_rate"], metric="error rate"),
            "uptime": change(down.uptime(middle, end), down.uptime(start, middle), metric="uptime", better="up"),
        },
        "series": _series(points, width),
        "modules": [_module_row(name, point) for name, point in rows.items()],
    }


def _when(at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=UTC)


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


# A module's own numbers (monitoring.metrics.series: per module and family) at these resolutions.
MODULE_WIDTHS = {"1h": MINUTE, "6h": MINUTE, "24h": TEN_MINUTES, "7d": TEN_MINUTES}


def module_performance(name: str, range_name: str) -> dict[str, Any]:
    """A module's series over the range, per family (requests, jobs, searches, batches, health checks):
    how many per bucket, how many failed, their mean duration, and the same over the whole range."""
    seconds, width = RANGES[range_name][0], MODULE_WIDTHS[range_name]
    until = clock.now()
    try:
        points = reading.modules_points(since=until - seconds, until=until + 1, width=width)
    except redis.RedisError:
        raise MetricsUnavailable(UNAVAILABLE) from None
    found = sorted({family for _, by_module in points for family in by_module.get(name, {})}, key=FAMILY_ORDER.index)
    families = {}
    for family in found:
        counts = [by_module.get(name, {}).get(family, reading.Counts()) for _, by_module in points]
        total = reading.Counts()
        for c in counts:
            total.add(c)
        families[family] = {
            "words": series.FAMILIES[family].words,
            "count": [c.n for c in counts],
            "errors": [c.e for c in counts],
            "mean_ms": [round(c.mean_ms, 2) if c.mean_ms is not None else None for c in counts],
            "total": {"count": total.n, "errors": total.e, "mean_ms": round(total.mean_ms, 2) if total.mean_ms is not None else None},
        }
    return {"module": name, "range": range_name, "resolution_seconds": width, "t": [at for at, _ in points], "families": families}


FAMILY_ORDER = ["http", "job", "search", "embed", "check", "query"]


def summaries(perf: dict[str, Any]) -> dict[str, str]:
    """One sentence per chart of the Monitoring page, for whoever cannot see the chart."""
    span, q = f"Over the last {perf['range']}", perf["api_response_time"]
    points = perf["series"]
    worst = max(((p, t) for p, t in zip(points["p95"], points["t"], strict=True) if p is not None), default=None)
    busiest = max(zip(points["request_rate"], points["t"], strict=True), default=(0, None))
    errors = max(((e, t) for e, t in zip(points["error_rate"], points["t"], strict=True) if e), default=None)
    if q["p95"] is None:
        latency = f"{span} no request was answered, so there is no response time to show."
    else:
        latency = (
            f"{span}, p95 response time was {q['p95']:.0f} ms (p50 {q['p50']:.0f} ms, p99 {q['p99']:.0f} ms)"
            + (f"; the highest p95 of one interval was {worst[0]:.0f} ms at {_clock(worst[1])}." if worst else ".")
        )
    rate = f"{span}, {perf['request_rate']:.2f} requests per second on average" + (
        f"; the busiest interval had {busiest[0]:.2f} per second at {_clock(busiest[1])}." if busiest[0] else "."
    )
    failing = f"{span}, {perf['error_rate']:.2f} % of requests failed with a server error" + (
        f"; the worst interval had {errors[0]:.1f} % at {_clock(errors[1])}." if errors else "; no interval had one."
    )
    return {"latency": latency, "rate": rate, "errors": failing}


def _clock(at: float) -> str:
    return time.strftime("%H:%M", time.gmtime(at)) + " UTC"
