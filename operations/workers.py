"""Control workers (pause, resume, drain) and read the broker's queues.

`operations` may not import `monitoring`, which owns the heartbeats, so monitoring registers a
roster here (as apps register cards and job types): who is alive, and how to list them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kombu.exceptions import OperationalError

from audit.models import Outcome
from audit.services import audit_record
from chlops.celery import app
from chlops.exceptions import ChlopsError, ServiceUnavailable
from operations import queueing, registry, selectors, services
from operations.models import ACTIVE_STATES, Job, JobState

WORK_QUEUES = ("jobs", "embed")  # what pause stops; `control` keeps the reaper and the drain job running
BROKER_QUEUES = ("jobs", "embed", "control")
REPLY_TIMEOUT = 3.0  # seconds to wait for a worker that does not answer
SENT_AT_HEADER = "chlops_sent_at"


class WorkerUnknown(ChlopsError):
    status = 404


@dataclass
class Roster:
    """What monitoring tells operations about workers, from their heartbeats."""

    live: Callable[[], list[str]]
    listing: Callable[[], list[dict[str, Any]]]
    queues: Callable[[], dict[str, Any]]
    # Told which workers answered a pause or resume, so the card shows it before their next beat.
    changed: Callable[[str, list[str]], None] = lambda action, replied: None


_roster: list[Roster] = []


def roster_register(roster: Roster) -> None:
    _roster[:] = [roster]


def roster() -> Roster:
    if not _roster:
        return Roster(live=_ping_hostnames, listing=lambda: [], queues=lambda: {"broker": queue_depths()})
    return _roster[0]


def _ping_hostnames() -> list[str]:
    return sorted(node for reply in app.control.ping(timeout=1) for node in reply)


@dataclass
class ControlAnswer:
    action: str
    replied: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, list[str]]:
        return {"replied": self.replied, "missing": self.missing}

    def sentence(self) -> str:
        done = "Paused" if self.action == "pause" else "Resumed"
        if not self.replied and not self.missing:
            return "No worker is online, so there was nothing to " + self.action + "."
        text = f"{done} {', '.join(self.replied)}." if self.replied else f"No worker answered the {self.action}."
        if self.missing:
            text += f" No answer from {', '.join(self.missing)}; it may be busy or gone — check the workers card."
        return text


def workers_pause(*, workers: list[str] | None = None, actor: Any = None, source: str) -> ControlAnswer:
    """Stop the named (or all live) workers taking new work from the jobs and embed queues."""
    return _control("pause", workers=workers, actor=actor, source=source)


def workers_resume(*, workers: list[str] | None = None, actor: Any = None, source: str) -> ControlAnswer:
    """Let the named (or all live) workers take work again; resuming all ends a running drain."""
    answer = _control("resume", workers=workers, actor=actor, source=source)
    if workers is None:
        _drain_end(actor=actor, source=source)
    return answer


def _control(action: str, *, workers: list[str] | None, actor: Any, source: str) -> ControlAnswer:
    if workers is not None and (
        not workers or not isinstance(workers, list) or not all(isinstance(w, str) for w in workers)
    ):
        raise ChlopsError(
            'Name the workers as a non-empty list of hostnames, like {"workers": ["alpha@host"]}, '
            "or leave 'workers' out to act on all of them."
        )
    if not queueing.broker_available():
        raise ServiceUnavailable(
            f"The broker (Redis) is not answering, so no worker could be told to {action}. "
            "Check that Redis is running, then try again."
        )
    live = roster().live()
    targets = _targets(workers, live)
    answer = ControlAnswer(action=action)
    if workers is None:
        _tell_everyone(action)
    if targets:
        answer.replied = _broadcast(action, targets)
        answer.missing = [t for t in targets if t not in answer.replied]
    audit_record(
        action=f"workers.{action}",
        actor=actor,
        source=source,
        target=", ".join(targets) or "no workers",
        outcome=Outcome.SUCCESS if not answer.missing else Outcome.FAILURE,
        details={**answer.as_json(), "queues": list(WORK_QUEUES)},
    )
    roster().changed(action, answer.replied)
    return answer


def _targets(workers: list[str] | None, live: list[str]) -> list[str]:
    if workers is None:
        return sorted(live)
    known = set(live) | {row["hostname"] for row in roster().listing()}
    unknown = [w for w in workers if w not in known]
    if unknown:
        names = ", ".join(sorted(live)) or "none is online"
        raise WorkerUnknown(f"Unknown worker: {', '.join(unknown)}. Known workers: {names}.")
    return sorted(set(workers))


def _tell_everyone(action: str) -> None:
    """Reach workers that have not beaten yet too; the known ones are then asked again, for replies."""
    command = app.control.cancel_consumer if action == "pause" else app.control.add_consumer
    try:
        for queue in WORK_QUEUES:
            command(queue, reply=False)  # both commands are idempotent on a worker
    except OperationalError as exc:
        raise ServiceUnavailable(
            f"The broker stopped answering while telling workers to {action}: {exc}. Try again."
        ) from None


def _broadcast(action: str, targets: list[str]) -> list[str]:
    """Send the command per queue; each call returns once every target answered (limit), or on timeout."""
    command = app.control.cancel_consumer if action == "pause" else app.control.add_consumer
    answered: set[str] | None = None
    try:
        for queue in WORK_QUEUES:
            replies = command(queue, destination=targets, reply=True, timeout=REPLY_TIMEOUT, limit=len(targets))
            names = {name for reply in replies or [] for name in reply}
            answered = names if answered is None else answered & names
    except OperationalError as exc:
        raise ServiceUnavailable(
            f"The broker stopped answering while telling workers to {action}: {exc}. Try again."
        ) from None
    return sorted(answered or set())


# --- The broker's queues ------------------------------------------------------------------


def queue_depths() -> dict[str, int]:
    """Messages waiting in each broker queue (all priority levels), or raise ServiceUnavailable."""
    return _read_queues(oldest=False)[0]


def queue_depths_and_oldest() -> tuple[dict[str, int], float | None]:
    """Depths, and the age in seconds of the oldest waiting message that carries a sent-at stamp."""
    return _read_queues(oldest=True)


def _read_queues(*, oldest: bool) -> tuple[dict[str, int], float | None]:
    try:
        with app.connection_for_read() as conn:
            channel = conn.default_channel
            client = channel.client
            keys = {q: priority_keys(channel, q) for q in BROKER_QUEUES}
            pipe = client.pipeline()
            for q in BROKER_QUEUES:
                for key in keys[q]:
                    pipe.llen(key)
                    if oldest:
                        pipe.lindex(key, -1)  # kombu LPUSHes and BRPOPs: the oldest sits at the right end
            values = iter(pipe.execute())
    except Exception as exc:  # noqa: BLE001 — redis and kombu raise many kinds of connection errors
        raise ServiceUnavailable(f"The broker (Redis) is not answering, so queue depths are unknown: {exc}.") from None
    depths: dict[str, int] = {}
    stamps: list[float] = []
    for q in BROKER_QUEUES:
        depths[q] = 0
        for _key in keys[q]:
            depths[q] += int(next(values))
            if oldest and (raw := next(values)) and (stamp := _sent_at(raw)):
                stamps.append(stamp)
    age = max(0.0, time.time() - min(stamps)) if stamps else None
    return depths, age


def priority_keys(channel: Any, queue: str) -> list[str]:
    """The Redis lists that hold `queue`, one per priority step, named as kombu's documented
    transport options `sep` and `priority_steps` say (step 0 is the queue's own name)."""
    return [f"{queue}{channel.sep}{step}" if step else queue for step in channel.priority_steps]


def _sent_at(raw: bytes) -> float | None:
    try:
        return float(json.loads(raw)["headers"][SENT_AT_HEADER])
    except (ValueError, KeyError, TypeError):
        return None


def stamp_sent_at(headers: dict | None = None, **_: Any) -> None:
    """before_task_publish receiver: stamp the time a message was sent, for the oldest-message age."""
    if headers is not None:
        headers[SENT_AT_HEADER] = time.time()


# --- Drain --------------------------------------------------------------------------------


def drain_active() -> Job | None:
    return selectors.job_drain_active()


def drain_remaining(*, exclude: int | None = None) -> dict[str, Any]:
    """What is left before maintenance: broker messages, jobs not finished, entries to embed."""
    depths = queue_depths()
    jobs = Job.objects.filter(state__in=ACTIVE_STATES).exclude(type="drain")
    if exclude:
        jobs = jobs.exclude(pk=exclude)
    running = jobs.filter(state__in=[JobState.RUNNING, JobState.CANCELLING]).count()
    queued = jobs.filter(state=JobState.QUEUED).count()
    messages = {q: depths[q] for q in WORK_QUEUES}
    # A queued job is in the broker, or already fetched by a worker that will run it: count it once.
    remaining = messages["embed"] + running + max(messages["jobs"], queued)
    return {
        "messages": messages,
        "jobs_in_flight": running,
        "jobs_queued": queued,
        **registry.backlogs(),
        "remaining": remaining,
    }


def drain_run(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Wait until jobs and embed are empty and nothing is in flight, or the timeout; then pause all."""
    timeout = int(params.get("timeout") or 300)
    deadline = time.monotonic() + timeout
    peak = 0
    while True:
        ctx.checkpoint()
        left = drain_remaining(exclude=ctx.job.pk)
        peak = max(peak, left["remaining"])
        ctx.progress(peak - left["remaining"], peak, phase="draining")
        timed_out = time.monotonic() >= deadline
        if left["remaining"] == 0 or timed_out:
            break
        time.sleep(0.2)
    ctx.checkpoint()
    ctx.progress(peak - left["remaining"], peak, phase="pausing")
    answer = workers_pause(actor=ctx.job.requested_by, source="system")
    left = drain_remaining(exclude=ctx.job.pk)  # after the pause nothing new starts: this is what remains
    ctx.log(answer.sentence(), **answer.as_json())
    return {
        **left,
        "timed_out": timed_out and left["remaining"] > 0,
        "paused": answer.replied,
        "missing": answer.missing,
    }


def _drain_end(*, actor: Any, source: str) -> None:
    drain = drain_active()
    if drain is not None and drain.state != JobState.CANCELLING:
        try:
            services.job_cancel(job=drain, actor=actor, source=source)
        except services.JobNotCancellable:
            pass  # it ended meanwhile
