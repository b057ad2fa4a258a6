"""Latency histograms in log-spaced bins (DDSketch's idea): merging two is adding their counts.

A value v > 0 falls in bin i = ceil(log_γ v), the interval (γ^(i-1), γ^i], with γ = (1+α)/(1-α). Every
value of a bin is reported as 2γ^i/(γ+1), which is within α of it: α = 1 % makes bins about 2 % wide,
and any quantile read from the bins is within 1 % of a value the exact quantile lies next to.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
MIN_SECONDS = 1e-6  # anything quicker (or zero) is counted in the bin of one microsecond
MIN_BIN = math.ceil(math.log(MIN_SECONDS) / _LOG_GAMMA)


def bin_of(seconds: float) -> int:
    """The bin a duration in seconds falls in."""
    if seconds <= MIN_SECONDS:
        return MIN_BIN
    return math.ceil(math.log(seconds) / _LOG_GAMMA)


def bin_value(index: int) -> float:
    """The value, in seconds, that stands for every duration in bin `index`."""
    return 2 * GAMMA**index / (GAMMA + 1)


class Sketch:
    """Counts per bin, the count and the sum of one latency series; built by adding bins or values."""

    __slots__ = ("bins", "count", "sum")

    def __init__(self) -> None:
        self.bins: dict[int, int] = {}
        self.count = 0
        self.sum = 0.0

    def add(self, seconds: float, n: int = 1) -> None:
        index = bin_of(seconds)
        self.bins[index] = self.bins.get(index, 0) + n
        self.count += n
        self.sum += seconds * n

    def add_bins(self, bins: Mapping[int, int], *, total_seconds: float = 0.0) -> None:
        for index, n in bins.items():
            self.bins[index] = self.bins.get(index, 0) + n
            self.count += n
        self.sum += total_seconds

    def merge(self, other: Sketch) -> Sketch:
        self.add_bins(other.bins, total_seconds=other.sum)
        return self

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 ≤ q ≤ 1) in seconds, or None when the sketch is empty."""
        if not self.count:
            return None
        rank = q * (self.count - 1)  # the same rank numpy's default (linear) interpolation starts from
        seen = 0
        for index in sorted(self.bins):
            seen += self.bins[index]
            if seen > rank:
                return bin_value(index)
        return bin_value(max(self.bins))

    def quantiles(self, qs: Iterable[float]) -> list[float | None]:
        return [self.quantile(q) for q in qs]

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None
