"""The diagnostics now: every check run, answered from a cache of a few seconds in this process.

The cache is keyed by the window of time it was computed in, so it never serves a list older than one
window, whoever forgets to clear it; reads only, never a write (a check that fails says so instead).
"""

from __future__ import annotations

import logging
import threading
import time

from diagnostics import corpus, environment, peers, workers
from diagnostics.base import CRITICAL, WARNING, Diagnostic, DiagnosticCheck

logger = logging.getLogger(__name__)

CACHE_SECONDS = 5.0
CHECKS: tuple[DiagnosticCheck, ...] = (*environment.ALL, *workers.ALL, *peers.ALL, *corpus.ALL)

_cache: dict[int, list[Diagnostic]] = {}
_lock = threading.Lock()


def diagnostics_current() -> list[Diagnostic]:
    """The diagnostics, computed at most once per CACHE_SECONDS window by this process."""
    window = int(time.monotonic() // CACHE_SECONDS)
    found = _cache.get(window)
    return found if found is not None else diagnostics_fresh()


def diagnostics_fresh() -> list[Diagnostic]:
    """Run every check now, and keep the answer for the rest of this window."""
    found = diagnostics_run(CHECKS)
    with _lock:
        _cache.clear()
        _cache[int(time.monotonic() // CACHE_SECONDS)] = found
    return found


def diagnostics_forget() -> None:
    with _lock:
        _cache.clear()


def diagnostics_run(checks: tuple[DiagnosticCheck, ...]) -> list[Diagnostic]:
    """What the checks find, critical first; a check that crashes is a diagnostic itself, never an error page."""
    found: list[Diagnostic] = []
    for check in checks:
        name = type(check).__name__
        try:
            found.extend(check.run())
        except Exception as exc:  # noqa: BLE001 — the database or Redis away: say so and go on
            logger.warning("diagnostic check %s failed", name, exc_info=True)
            found.append(
                Diagnostic(
                    f"check-failed:{name}",
                    WARNING,
                    f"The check “{_about(check)}” could not run: {exc.__class__.__name__}: {str(exc)[:200]}".rstrip(
                        ". "
                    )
                    + ".",
                    "See the logs of this process; the database or Redis may be down.",
                )
            )
    return sorted(found, key=lambda d: d.level != CRITICAL)


def diagnostics_production() -> list[Diagnostic]:
    """The diagnostics of a production deployment's settings alone (no database): what `manage.py check` reports."""
    return diagnostics_run(tuple(check for check in CHECKS if check.production))


def followed_job_types() -> set[str]:
    """The job types whose end may change the list (the checks say which)."""
    return {job_type for check in CHECKS for job_type in check.jobs}


def _about(check: DiagnosticCheck) -> str:
    return ((type(check).__doc__ or type(check).__name__).strip().splitlines()[0]).rstrip(".")
