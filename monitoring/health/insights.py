"""Anomalies, trends and error counts of the modules, from their one-minute numbers (DESIGN §10).

An anomaly is a robust z-score, (x − median) / (1.4826·MAD), of a module's minute against the 24 hours
before it, with a floor under the band's width (so a flat history does not make every blip huge)
and a minimum rate (a count of 2 is never an anomaly), flagged only when the last 3 closed minutes
all breach on the same side: |z| > 2 is medium, > 3 high. Each comes with a sentence an operator
can read: "error count 14 in the last minute, usually 0–1".
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from monitoring.metrics import clock, reading, series
from monitoring.metrics.reading import Counts, ModuleCounts

DAY = 86_400
BREACHES = 3
MEDIUM, HIGH = 2.0, 3.0
BASELINE_MINUTES = 30  # fewer minutes of history than this: too early to call anything unusual
FLAT = 0.05  # a trend under 5 % either way is flat


@dataclass(frozen=True)
class Measure:
    metric: str
    value: Callable[[Counts], float | None]
    floor: Callable[[float], float]  # the band's least width, given the median
    minimum: float  # below this, neither the usual nor the latest values are worth a word
    unit: str = ""


def _count(counts: Counts) -> float:
    return float(counts.n)


def _errors(counts: Counts) -> float:
    return float(counts.e)


def _latency(counts: Counts) -> float | None:
    return counts.mean_ms if counts.n >= 3 else None


ERRORS = Measure("errors", _errors, floor=lambda median: 1.0, minimum=3)
COUNT = Measure("count", _count, floor=lambda median: max(2.0, 0.1 * median), minimum=10)
LATENCY = Measure("latency", _latency, floor=lambda median: max(5.0, 0.1 * median), minimum=0, unit="ms")

# What each family's numbers are called in a sentence, and which of them are watched.
WORDS = {
    "http": {"errors": "error count", "count": "requests", "latency": "response time"},
    "job": {"errors": "failed jobs", "count": "jobs", "latency": "job duration"},
    "search": {"errors": "failed searches", "count": "searches", "latency": "search time"},
    "embed": {"errors": "failed embedding batches", "count": "embedding batches", "latency": "batch time"},
    "check": {"latency": "health check time"},
}
MEASURES = {"errors": ERRORS, "count": COUNT, "latency": LATENCY}


def robust_z(value: float, history: list[float], floor: float) -> tuple[float, float, float]:
    """(z, median, band): how many bands `value` lies from the median of `history`."""
    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history)
    band = max(1.4826 * mad, floor)
    return (value - median) / band, median, band


def anomaly(values: list[float | None], measure: Measure, words: str) -> dict | None:
    """The anomaly of a measure's minutes (oldest first, the last 3 being the latest closed ones), or None."""
    latest, history = values[-BREACHES:], [v for v in values[:-BREACHES] if v is not None]
    if len(history) < BASELINE_MINUTES or len(latest) < BREACHES or any(v is None for v in latest):
        return None
    median = statistics.median(history)
    floor = measure.floor(median)
    scores = [robust_z(v, history, floor)[0] for v in latest]  # type: ignore[arg-type]
    same_side = all(z > MEDIUM for z in scores) or all(z < -MEDIUM for z in scores)
    if not same_side or max(median, *latest) < measure.minimum:  # type: ignore[type-var]
        return None
    _, median, band = robust_z(latest[-1], history, floor)  # type: ignore[arg-type]
    low, high = max(0.0, median - band), median + band
    unit = f" {measure.unit}" if measure.unit else ""
    return {
        "metric": measure.metric,
        "severity": "high" if all(abs(z) > HIGH for z in scores) else "medium",
        "z": round(scores[-1], 1),
        "sentence": f"{words} {_number(latest[-1])}{unit} in the last minute, usually {_number(low)}–{_number(high)}{unit}",
    }


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:.1f}"


def module_anomalies(module: str, minutes: list[tuple[int, ModuleCounts]]) -> list[dict]:
    """Every anomaly of one module, over its closed minutes (oldest first)."""
    found = []
    for family, words in WORDS.items():
        counts = [by_module.get(module, {}).get(family, Counts()) for _, by_module in minutes]
        if not any(c.n for c in counts):
            continue
        for metric, word in words.items():
            measure = MEASURES[metric]
            if (result := anomaly([measure.value(c) for c in counts], measure, word)) is not None:
                found.append({**result, "family": family})
    return sorted(found, key=lambda a: (a["severity"] != "high", -abs(a["z"])))


def trend(module: str, minutes: list[tuple[int, ModuleCounts]], *, window: int = 60) -> dict | None:
    """The module's health check time over the last `window` minutes against the window before, or None."""
    now, before = Counts(), Counts()
    for _, by_module in minutes[-window:]:
        now.add(by_module.get(module, {}).get("check", Counts()))
    for _, by_module in minutes[-2 * window : -window]:
        before.add(by_module.get(module, {}).get("check", Counts()))
    return change(now.mean_ms, before.mean_ms, metric="response time")


def change(now: float | None, before: float | None, *, metric: str, better: str = "down") -> dict | None:
    """How `now` moved from `before`: {metric, change (a fraction), direction up|down|flat, tone better|worse|flat},
    or None; `better` is the direction that is good news (down for times and errors, up for uptime)."""
    if now is None or not before:
        return None
    moved = (now - before) / before
    direction = "flat" if abs(moved) < FLAT else "up" if moved > 0 else "down"
    tone = "flat" if direction == "flat" else "better" if direction == better else "worse"
    return {"metric": metric, "change": round(moved, 4), "direction": direction, "tone": tone}


def error_count(module: str, minutes: list[tuple[int, ModuleCounts]]) -> int:
    return sum(c.e for _, by_module in minutes for c in by_module.get(module, {}).values())


_closed: dict[int, ModuleCounts] = {}


def day_of_minutes() -> list[tuple[int, ModuleCounts]]:
    """Every module's numbers for each closed minute of the last 24 hours, oldest first.

    Closed minutes do not change once every process has flushed them, so a process keeps those it
    read: a round reads only the minutes it has not seen.
    """
    now = clock.now()
    current = series.bucket_start(now, series.MINUTE)
    settled = current - series.MINUTE  # the last minute may still receive a late flush
    starts = list(range(current - DAY, current, series.MINUTE))
    missing = [start for start in starts if start not in _closed or start >= settled]
    if missing:
        fetched = reading.modules_points(since=missing[0], until=missing[-1] + 1, width=series.MINUTE)
        for start, counts in fetched:
            if start in missing:
                _closed[start] = counts
    for start in [start for start in _closed if start < current - DAY]:
        del _closed[start]
    return [(start, _closed.get(start, {})) for start in starts]


def closed_forget() -> None:
    """Forget the minutes read so far (tests that write into the past)."""
    _closed.clear()
