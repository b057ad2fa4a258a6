"""Read the store: a series over a time range, the modules' minutes, and the cumulative totals.

Every read is one pipeline. Missing buckets are empty (no traffic, or expired), never an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from chlops.redis_clients import redis_client
from monitoring.metrics import clock, series
from monitoring.metrics.series import MINUTE, MODULES, TEN_MINUTES
from monitoring.metrics.sketch import Sketch

READ_TIMEOUT = 1.0


@dataclass
class Point:
    """One time bucket of one series: its latency sketch (count, sum, bins) and its errors."""

    at: int
    sketch: Sketch = field(default_factory=Sketch)
    errors: int = 0

    @property
    def count(self) -> int:
        return self.sketch.count


@dataclass
class Counts:
    """How many things happened in a bucket, how many failed, and their summed duration in µs."""

    n: int = 0
    e: int = 0
    s: int = 0

    def add(self, other: Counts) -> None:
        self.n += other.n
        self.e += other.e
        self.s += other.s

    @property
    def mean_ms(self) -> float | None:
        return self.s / self.n / 1000 if self.n else None


# Per bucket: {module: {family: Counts}}.
ModuleCounts = dict[str, dict[str, Counts]]


def width_for(since: float) -> int:
    """Minutes while they are kept, ten-minute roll-ups before that."""
    return MINUTE if since >= clock.now() - series.MINUTE_KEEP + MINUTE else TEN_MINUTES


def starts(since: float, until: float, width: int) -> list[int]:
    """Starts of the buckets of `width` that overlap [since, until)."""
    first = series.bucket_start(since, width)
    return list(range(first, int(until), width))


def series_points(family: str, key: str, *, since: float, until: float, width: int | None = None) -> list[Point]:
    """The buckets of one series between two times."""
    width = width or width_for(since)
    at = starts(since, until, width)
    raw = _hgetall([series.series_key(width, start, family, key) for start in at])
    return [_point(start, fields) for start, fields in zip(at, raw, strict=True)]


def series_many(family: str, keys: Iterable[str], *, since: float, until: float, width: int) -> dict[str, list[Point]]:
    """Several series of one family over the same buckets, in one pipeline."""
    keys = list(keys)
    at = starts(since, until, width)
    raw = _hgetall([series.series_key(width, start, family, key) for key in keys for start in at])
    return {key: [_point(start, raw[i * len(at) + j]) for j, start in enumerate(at)] for i, key in enumerate(keys)}


def modules_points(*, since: float, until: float, width: int | None = None) -> list[tuple[int, ModuleCounts]]:
    """Every module's numbers per bucket between two times."""
    width = width or width_for(since)
    at = starts(since, until, width)
    raw = _hgetall([series.modules_key(width, start) for start in at])
    return [(start, _modules(fields)) for start, fields in zip(at, raw, strict=True)]


@dataclass
class Total:
    """The cumulative histogram of one labelled series, in the buckets /metrics exposes (+Inf last)."""

    count: int = 0
    sum_us: int = 0
    buckets: list[int] = field(default_factory=list)


def totals(family: str) -> dict[tuple[str, ...], Total]:
    """Every labelled series of a family since the store began: {(key, *labels): Total}."""
    return _totals(family, redis_client(timeout=READ_TIMEOUT).hgetall(series.total_key(family)))


def counters() -> dict[tuple[str, str], int]:
    """Every cumulative counter: {(counter, label value): count}."""
    return _counters(redis_client(timeout=READ_TIMEOUT).hgetall(series.COUNTERS_KEY))


def cumulative() -> tuple[dict[str, dict[tuple[str, ...], Total]], dict[tuple[str, str], int]]:
    """Every family's totals and every counter, in one pipeline: what /metrics shows."""
    raw = _hgetall([*map(series.total_key, series.FAMILIES), series.COUNTERS_KEY])
    found = {family: _totals(family, fields) for family, fields in zip(series.FAMILIES, raw, strict=False)}
    return found, _counters(raw[-1])


def _totals(family: str, raw: dict[bytes, bytes]) -> dict[tuple[str, ...], Total]:
    size = len(series.FAMILIES[family].le) + 1
    found: dict[tuple[str, ...], Total] = {}
    for name, value in raw.items():
        labelled, _, part = name.decode().rpartition("|")
        labels = tuple(labelled.split(","))
        total = found.get(labels) or found.setdefault(labels, Total(buckets=[0] * size))
        if part == "n":
            total.count = int(value)
        elif part == "s":
            total.sum_us = int(value)
        elif part.isdigit() and int(part) < len(total.buckets):
            total.buckets[int(part)] = int(value)
    return found


def _counters(raw: dict[bytes, bytes]) -> dict[tuple[str, str], int]:
    return {tuple(name.decode().split("|", 1)): int(value) for name, value in raw.items()}  # type: ignore[misc]


def _hgetall(keys: list[str]) -> list[dict[bytes, bytes]]:
    if not keys:
        return []
    with redis_client(timeout=READ_TIMEOUT).pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hgetall(key)
        return pipe.execute()


def _point(start: int, fields: dict[bytes, bytes]) -> Point:
    point = Point(at=start)
    if not fields:
        return point
    bins = {}
    for name, value in fields.items():
        if name == b"n" or name == b"s" or name == b"e":
            continue
        bins[int(name)] = int(value)
    point.sketch.add_bins(bins, total_seconds=int(fields.get(b"s", 0)) / 1_000_000)
    point.errors = int(fields.get(b"e", 0))
    return point


def _modules(fields: dict[bytes, bytes]) -> ModuleCounts:
    found: ModuleCounts = {}
    for name, value in fields.items():
        module, family, part = (name.decode().split("|") + ["", ""])[:3]
        if module in MODULES and family in series.FAMILIES and part in ("n", "e", "s"):
            counts = found.setdefault(module, {}).setdefault(family, Counts())
            setattr(counts, part, int(value))
    return found


def merged(points: Iterable[Point]) -> Point:
    """All the points as one (their sketches added): a quantile over a whole range."""
    total = Point(at=0)
    for point in points:
        total.sketch.merge(point.sketch)
        total.errors += point.errors
    return total


def recent(family: str, keys: Iterable[str], *, seconds: int) -> Point:
    """Series of one family over the last `seconds` (the current minute included), merged into one."""
    now = clock.now()
    found = merged_many(family, keys, since=now - seconds, until=now + 1, width=MINUTE)
    return merged(found.values())


def merged_many(family: str, keys: Iterable[str], *, since: float, until: float, width: int) -> dict[str, Point]:
    """Each series of `keys` over a range, its buckets merged into one point, in one pipeline."""
    keys = list(keys)
    at = starts(since, until, width)
    raw = _hgetall([series.series_key(width, start, family, key) for key in keys for start in at])
    return {key: _merged_fields(raw[i * len(at) : (i + 1) * len(at)]) for i, key in enumerate(keys)}


SPECIAL = np.array([b"n", b"e", b"s"])


def _merged_fields(hashes: list[dict[bytes, bytes]]) -> Point:
    # numpy parses and adds the fields: a week of a series is ~10^5 of them, too many for a Python loop.
    names: list[bytes] = []
    values: list[bytes] = []
    for fields in hashes:
        names.extend(fields)
        values.extend(fields.values())
    point = Point(at=0)
    if not names:
        return point
    name_array, value_array = np.array(names), np.array(values).astype(np.int64)
    special = np.isin(name_array, SPECIAL)
    point.errors = int(value_array[name_array == b"e"].sum())
    bins, counts = name_array[~special].astype(np.int64), value_array[~special]
    if len(bins):
        low = int(bins.min())
        added = np.bincount(bins - low, weights=counts).astype(np.int64)
        present = np.flatnonzero(added)
        point.sketch.add_bins(dict(zip((present + low).tolist(), added[present].tolist(), strict=True)))
    point.sketch.sum = int(value_array[name_array == b"s"].sum()) / 1_000_000
    return point


def gauge_points(gauge: str, *, since: float, until: float, width: int) -> list[tuple[int, int | None, int | None]]:
    """A gauge's buckets between two times: (start, last sample, highest sample), None where none was taken."""
    at = starts(since, until, width)
    raw = _hgetall([series.gauge_key(width, start, gauge) for start in at])
    return [
        (start, int(fields[b"last"]) if b"last" in fields else None, int(fields[b"max"]) if b"max" in fields else None)
        for start, fields in zip(at, raw, strict=True)
    ]
