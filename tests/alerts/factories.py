"""Rules of a test's own, and metrics fed through the recorder into the real store."""

from __future__ import annotations

import uuid

from alerts.models import AlertRule
from monitoring.metrics import RECORDER, series


def a_rule(**fields) -> AlertRule:
    """A rule only this test evaluates: the seeded ones are switched off (inside the test's transaction)."""
    AlertRule.objects.exclude(name__startswith="test-").update(enabled=False)
    values = {
        "name": f"test-{uuid.uuid4().hex[:8]}",
        "metric": "error_rate",
        "module": "web",
        "comparison": ">",
        "threshold": 5.0,
        "for_seconds": 60,
        "clear_threshold": 4.0,
        "severity": "critical",
        **fields,
    }
    return AlertRule.objects.create(**values)


def requests_recorded(module: str, *, ok: int, failed: int, seconds: float = 0.01) -> None:
    """Requests of `module` answered now (on the store's clock), `failed` of them with a server error."""
    for _ in range(ok):
        RECORDER.observe(series.HTTP, module, ("GET", "2xx"), seconds)
    for _ in range(failed):
        RECORDER.observe(series.HTTP, module, ("GET", "5xx"), seconds, error=True)
    RECORDER.flush()
