"""The metrics store (DESIGN §10): counted in each process's memory, flushed once a second to Redis.

    from monitoring.metrics import RECORDER, series
    RECORDER.observe(series.HTTP, "search", ("GET", "2xx"), 0.012)

`series` names what may be stored; `reading` reads it back; `clock` is the time it all uses.
"""

from __future__ import annotations

from monitoring.metrics.recorder import RECORDER

__all__ = ["RECORDER"]
