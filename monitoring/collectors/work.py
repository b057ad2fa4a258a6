"""Jobs, searches and embedding batches, as operations.observers reports them (registered in ready())."""

from __future__ import annotations

from monitoring.metrics import RECORDER, series
from operations.observers import Observation

FAILED = {"job": "failed", "search": "error", "embed": "error"}
FAMILIES = {"job": series.JOB, "search": series.SEARCH, "embed": series.EMBED}


def work_observed(observation: Observation) -> None:
    family = FAMILIES.get(observation.kind)
    if family is None:
        return
    failed = observation.outcome == FAILED[observation.kind]
    RECORDER.observe(family, observation.key, (observation.outcome,), observation.seconds, error=failed)
    if observation.kind == "embed" and not failed:
        RECORDER.count(series.EMBEDDED_TEXTS, observation.key, observation.items)
