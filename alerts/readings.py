"""The current value of each metric a rule can watch, read from monitoring's store and selectors.

Each reader answers {module: value} for the module a rule names ("" for the whole system); a value is
None when there is nothing to judge (no traffic, a module not checked yet), which never breaches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alerts.models import Metric
from chlops.exceptions import ServiceUnavailable
from monitoring.health import selectors as health
from monitoring.health.runner import DOWN, HEALTHY
from monitoring.metrics import reading
from monitoring.metrics.series import ALL, MODULES
from monitoring.status import cache
from operations import workers as control

WINDOW_SECONDS = 60  # error rate and p95 are over the last minute (and the current one, as the store buckets it)
MIN_REQUESTS = 10  # fewer requests than this say nothing about a rate or a quantile
STATUS_VALUES = {HEALTHY: 0.0, "degraded": 1.0, DOWN: 2.0}
STATUS_WORDS = {value: word for word, value in STATUS_VALUES.items()}


@dataclass(frozen=True)
class Reader:
    unit: str  # shown after a value: " %", " ms", ""
    read: Callable[[tuple[str, ...]], dict[str, float | None]]
    status: bool = False  # values are module statuses (0 healthy, 1 degraded, 2 down)
    per_module: bool = False  # a rule without a module watches each module on its own


def _http(modules: tuple[str, ...]) -> dict[str, reading.Point]:
    keys = [module or ALL for module in modules]
    found = {}
    for module, key in zip(modules, keys, strict=True):
        found[module] = reading.recent("http", [key], seconds=WINDOW_SECONDS)
    return found


def error_rate(modules: tuple[str, ...]) -> dict[str, float | None]:
    return {m: (100 * p.errors / p.count if p.count >= MIN_REQUESTS else None) for m, p in _http(modules).items()}


def p95_latency(modules: tuple[str, ...]) -> dict[str, float | None]:
    found = {}
    for module, point in _http(modules).items():
        q = point.sketch.quantile(0.95) if point.count >= MIN_REQUESTS else None
        found[module] = None if q is None else q * 1000
    return found


def queue_length(modules: tuple[str, ...]) -> dict[str, float | None]:
    try:
        depths, _ = control.queue_depths_and_oldest()
    except ServiceUnavailable:
        depths = {}
    total = sum(depth or 0 for depth in depths.values()) if depths else None
    return dict.fromkeys(modules, None if total is None else float(total))


def cache_hit_rate(modules: tuple[str, ...]) -> dict[str, float | None]:
    # The Cache card's ratio: hits over reads since counting began (the store keeps no per-minute cache series yet).
    overview = cache.cache_overview()
    reads = overview["hits"] + overview["misses"]
    value = 100 * overview["hits"] / reads if reads >= MIN_REQUESTS else None
    return dict.fromkeys(modules, value)


def module_status(modules: tuple[str, ...]) -> dict[str, float | None]:
    overview = health.health_overview()
    wanted = [m for m in modules if m] or list(MODULES)
    return {name: STATUS_VALUES.get(overview.module(name).status) for name in wanted}


def worker_health(modules: tuple[str, ...]) -> dict[str, float | None]:
    value = module_status(("workers",))["workers"]
    return dict.fromkeys(modules, value)


READERS: dict[str, Reader] = {
    Metric.ERROR_RATE: Reader(unit=" %", read=error_rate),
    Metric.P95_LATENCY: Reader(unit=" ms", read=p95_latency),
    Metric.QUEUE_LENGTH: Reader(unit="", read=queue_length),
    Metric.CACHE_HIT_RATE: Reader(unit=" %", read=cache_hit_rate),
    Metric.WORKER_HEALTH: Reader(unit="", read=worker_health, status=True),
    Metric.MODULE_STATUS: Reader(unit="", read=module_status, status=True, per_module=True),
}


def values_read(wanted: dict[str, set[str]]) -> dict[tuple[str, str], float | None]:
    """The values the enabled rules need, each read once: {(metric, module): value}."""
    found: dict[tuple[str, str], float | None] = {}
    for metric, modules in wanted.items():
        reader = READERS[metric]
        for module, value in reader.read(tuple(sorted(modules))).items():
            found[(metric, module)] = value
    return found
