"""The time ranges the pages and the API offer, the resolution each is read at, and reading's errors."""

from __future__ import annotations

from chlops.exceptions import ChlopsError, ServiceUnavailable
from monitoring.metrics.series import HOUR, MINUTE, TEN_MINUTES

# Seconds, the chart's resolution and the per-module table's: each read stays a few hundred hashes.
RANGES = {
    "1h": (3600, MINUTE, MINUTE),
    "6h": (6 * 3600, MINUTE, TEN_MINUTES),
    "24h": (86400, TEN_MINUTES, HOUR),
    "7d": (7 * 86400, HOUR, HOUR),
}
DEFAULT_RANGE = "1h"


class RangeInvalid(ChlopsError):
    status = 400


class MetricsUnavailable(ServiceUnavailable):
    pass


UNAVAILABLE = "The metrics cannot be read: Redis is not answering. Counting resumes by itself when it is back."


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
