"""Report work as it ends (a job, a search, an embedding batch), and jobs as they start and end, to whoever observes it.

`operations` and the apps built on it may not import `monitoring`, which observes them all: they
report here and monitoring registers its observer in its ready(), as apps register cards and job
types. Observers run on the reporting thread, so they must be quick; one that raises is logged and
skipped, because observing never fails the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observation:
    kind: str  # "job", "search" or "embed"
    key: str  # the job type, the search mode or the embedder
    outcome: str  # a job's end state; "ok", "invalid" (refused input) or "error" for the rest
    seconds: float
    items: int = 1  # texts embedded, for an embedding batch


# The work this thread is doing, for observers that name where something came from (a slow query):
# "job:<type>" while the runner runs a job. A request is known from audit.context.current_request.
current_work: ContextVar[str] = ContextVar("operations_current_work", default="")

Observer = Callable[[Observation], None]
_observers: list[Observer] = []


def observer_register(observer: Observer) -> None:
    if observer not in _observers:
        _observers.append(observer)


def observe(kind: str, *, key: str, outcome: str, seconds: float, items: int = 1) -> None:
    """Tell every observer that a piece of work ended; never raises."""
    if not _observers:
        return
    observation = Observation(kind=kind, key=key, outcome=outcome, seconds=seconds, items=items)
    for observer in _observers:
        try:
            observer(observation)
        except Exception:  # noqa: BLE001 — a broken observer must not fail the work it watches
            logger.exception("observer %r failed on %s", observer, observation)


@dataclass(frozen=True)
class JobTransition:
    """A job started running (state "running") or ended (its end state), however it ended: the runner, a
    cancel, or the reaper failing it for a lost worker."""

    job_id: int
    type: str
    state: str


JobObserver = Callable[[JobTransition], None]
_job_observers: list[JobObserver] = []


def job_observer_register(observer: JobObserver) -> None:
    if observer not in _job_observers:
        _job_observers.append(observer)


def job_transition(job_id: int, *, type: str, state: str) -> None:
    """Tell every job observer that a job started or ended; never raises."""
    transition = JobTransition(job_id=job_id, type=type, state=state)
    for observer in _job_observers:
        try:
            observer(transition)
        except Exception:  # noqa: BLE001 — a broken observer must not fail the job it watches
            logger.exception("job observer %r failed on %s", observer, transition)
