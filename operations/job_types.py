"""The built-in job types of the engine itself."""

from __future__ import annotations

import time
from typing import Any

from django import forms

from operations import workers
from operations.registry import JobType, Operation
from operations.runner import RunContext


class CanaryForm(forms.Form):
    seconds = forms.FloatField(
        label="Seconds", required=False, min_value=0, max_value=3600, initial=1, help_text="How long the canary ticks; 0 to 3600."
    )


def canary_run(ctx: RunContext, params: dict[str, Any]) -> dict:
    """Tick progress for `seconds`, checking for cancellation on every tick."""
    seconds = float(params.get("seconds", 1))
    ticks = max(1, int(seconds / 0.05))
    ctx.progress(0, ticks, phase="ticking")
    started = time.monotonic()
    for tick in range(1, ticks + 1):
        ctx.checkpoint()
        delay = started + tick * seconds / ticks - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        ctx.progress(tick, ticks)
    return {"ticks": ticks, "seconds": seconds}


CANARY = JobType(name="canary", label="Canary", run=canary_run, form=CanaryForm, queue="jobs", lock_key="canary")
CANARY_OPERATION = Operation(slug="canary", title="Canary", job_type="canary", button="Start canary", order=40)


class DrainForm(forms.Form):
    timeout = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=86_400,
        initial=300,
        help_text="Seconds to wait for the jobs and embed queues to empty before pausing anyway (1 to 86,400).",
    )


# On `control`, so that it neither waits behind the backlog it drains nor counts itself in it.
DRAIN = JobType(name="drain", label="Drain", run=workers.drain_run, form=DrainForm, queue="control", lock_key="drain")
