"""Whether any worker is online, from the workers' heartbeats (the roster monitoring gives operations)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from diagnostics.base import CRITICAL, Diagnostic, DiagnosticCheck
from operations.workers import roster


@dataclasses.dataclass
class WorkerOnline(DiagnosticCheck):
    """At least one worker beats."""

    def run(self) -> Iterator[Diagnostic]:
        if not roster().live():
            yield Diagnostic(
                "no-worker",
                CRITICAL,
                "No worker is online: no job, verification, embedding or health round runs, and what is queued waits.",
                "Start one with `celery -A chlops worker -Q jobs,embed,control` (or `python manage.py runstack`).",
            )


ALL = (WorkerOnline(),)
