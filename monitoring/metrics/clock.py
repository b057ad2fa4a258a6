"""The store's clock: wall time, which a test can set to prove retention and roll-ups without waiting."""

from __future__ import annotations

import time

_fixed: list[float] = []


def now() -> float:
    """Seconds since the epoch: the wall clock, or the time a test set."""
    return _fixed[0] if _fixed else time.time()


def clock_set(at: float) -> None:
    """Make now() answer `at` until clock_reset(); for tests."""
    _fixed[:] = [at]


def clock_reset() -> None:
    _fixed.clear()
