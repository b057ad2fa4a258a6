"""Sample the broker's queue length into the store after each health round (every 10 s)."""

from __future__ import annotations

from chlops.exceptions import ServiceUnavailable
from monitoring.metrics import RECORDER, series
from operations import workers


def queue_length_sample() -> int | None:
    """Record the messages waiting in every queue together; None (and nothing recorded) when the broker is down."""
    try:
        length = sum(workers.queue_depths().values())
    except ServiceUnavailable:
        return None
    RECORDER.gauge(series.QUEUE_LENGTH, length)
    return length
