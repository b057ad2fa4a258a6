"""Run every module's checks at once, each cut at its own timeout, and say what each module is.

Checks run on a pool of threads (async ones in an event loop of their own thread). A check that
hangs cannot be killed; it is answered "timed out after N s" at its deadline, the others are not
held up, and it is not started again while it still hangs, so a stuck probe costs one thread.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from django.db import connections
from health_check import HealthCheck
from health_check.exceptions import HealthCheckException, ServiceWarning

from monitoring.health.modules import ALL, Module

logger = logging.getLogger(__name__)

HEALTHY, DEGRADED, DOWN = "healthy", "degraded", "down"
RANK = {HEALTHY: 0, DEGRADED: 1, DOWN: 2}


@dataclass(frozen=True)
class CheckAnswer:
    name: str
    about: str
    status: str
    message: str
    ms: float

    def as_json(self) -> dict:
        return {"name": self.name, "about": self.about, "status": self.status, "message": self.message, "ms": round(self.ms, 1)}


@dataclass(frozen=True)
class ModuleAnswer:
    module: str
    status: str
    message: str  # the first thing wrong, in a sentence; empty when healthy
    ms: float  # the module's response time: its checks' times added
    checks: tuple[CheckAnswer, ...]


_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="health-check")
_hanging: dict[tuple[str, int, str], Future] = {}
_lock = threading.Lock()


def modules_check(modules: Iterable[Module] = ALL) -> list[ModuleAnswer]:
    """Check every module now, concurrently; no check takes longer than its timeout."""
    started = time.monotonic()
    submitted = []
    for module in modules:
        for position, check in enumerate(module.checks()):
            key = (module.name, position, type(check).__name__)
            with _lock:
                earlier = _hanging.get(key)
                future = None if earlier is not None and not earlier.done() else _pool.submit(_run, check)
                if future is not None:
                    _hanging[key] = future
            submitted.append((module, check, future))
    answers: dict[str, list[CheckAnswer]] = {}
    modules_seen: dict[str, Module] = {}
    for module, check, future in submitted:
        modules_seen[module.name] = module
        answers.setdefault(module.name, []).append(_answer(check, future, started))
    return [_verdict(modules_seen[name], tuple(found)) for name, found in answers.items()]


def _answer(check: HealthCheck, future: Future | None, started: float) -> CheckAnswer:
    limit = check.timeout.total_seconds()
    name, about = type(check).__name__, about_of(check)
    if future is None:
        return CheckAnswer(name, about, DOWN, f"Timed out after {limit:g} s (still running since an earlier round).", limit * 1000)
    try:
        error, ms = future.result(timeout=max(0.0, started + limit - time.monotonic()))
    except FutureTimeout:
        return CheckAnswer(name, about, DOWN, f"Timed out after {limit:g} s.", limit * 1000)
    if error is None:
        return CheckAnswer(name, about, HEALTHY, "", ms)
    status = DEGRADED if isinstance(error, ServiceWarning) else DOWN
    return CheckAnswer(name, about, status, sentence(error.message), ms)


def _run(check: HealthCheck) -> tuple[HealthCheckException | None, float]:
    started = time.perf_counter()
    try:
        if inspect.iscoroutinefunction(check.run):
            asyncio.run(check.run())
        else:
            check.run()
        error = None
    except HealthCheckException as exc:
        error = exc
    except Exception as exc:  # noqa: BLE001 — a check that crashes says so, and the module is down
        logger.exception("health check %r failed unexpectedly", check)
        error = HealthCheckException(f"The check failed unexpectedly: {exc.__class__.__name__}: {exc}"[:300])
    finally:
        connections.close_all()  # this pool thread's own connections: none lingers between rounds
    return error, (time.perf_counter() - started) * 1000


def _verdict(module: Module, checks: tuple[CheckAnswer, ...]) -> ModuleAnswer:
    worst = max(checks, key=lambda answer: RANK[answer.status])
    ms = sum(answer.ms for answer in checks)
    if worst.status == HEALTHY and module.slow_ms is not None and ms > module.slow_ms:
        message = f"Answered in {ms:.0f} ms, slower than {module.slow_ms:.0f} ms."
        return ModuleAnswer(module.name, DEGRADED, message, ms, checks)
    return ModuleAnswer(module.name, worst.status, worst.message, ms, checks)


def about_of(check: HealthCheck) -> str:
    """What a check looks at: the first line of its class's docstring."""
    return (inspect.getdoc(type(check)) or type(check).__name__).splitlines()[0]


def sentence(message: object) -> str:
    text = str(message).strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def overall(statuses: dict[str, str | None], critical: Iterable[str]) -> str:
    """Down if a critical module is down, else degraded if any module is not healthy, else healthy."""
    if any(statuses.get(name) == DOWN for name in critical):
        return DOWN
    return HEALTHY if all(status == HEALTHY for status in statuses.values()) else DEGRADED
