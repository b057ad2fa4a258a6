"""Alert tests run at a time of their own on the store's clock, so no other test's metrics are in their minutes."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from monitoring.metrics import RECORDER, clock

# Ten-minute slots from 7 hours ago (inside the minutes' 8 hours of keeping), from a random one per run.
BASE = (int(time.time()) // 600) * 600 - 7 * 3600
_slots = itertools.count(random.randrange(0, 20))


@pytest.fixture
def store_clock():
    """A fresh ten minutes of the store's clock for one test; `tick(seconds)` moves it on."""
    RECORDER.flush()  # what this process counted before belongs to the real time
    start = BASE + (next(_slots) % 40) * 600 + 5

    class Clock:
        at = float(start)

        def tick(self, seconds: float) -> None:
            self.at += seconds
            clock.clock_set(self.at)

    found = Clock()
    clock.clock_set(found.at)
    yield found
    RECORDER.flush()
    clock.clock_reset()
