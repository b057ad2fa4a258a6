"""The shape of a diagnostic check: django-health-check v4's (a small dataclass with one run()), listed
explicitly where it is used.

Not its base class: a health check raises one exception for the one thing it probes, while a diagnostic
check may find several things at once (one failing credential each), so run() yields them.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterator
from typing import ClassVar

CRITICAL, WARNING = "critical", "warning"
LEVELS = (CRITICAL, WARNING)


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    id: str  # stable while the cause lasts: "credential-unreadable:github", "debug-in-production"
    level: str
    message: str  # what is wrong, in a sentence
    fix: str  # what to do about it, in a sentence

    def as_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class DiagnosticCheck(abc.ABC):
    """One cause of trouble; run() yields a Diagnostic for each instance of it found, nothing when all is well."""

    production: ClassVar[bool] = False  # about a production deployment only: `manage.py check` reports it too
    jobs: ClassVar[tuple[str, ...]] = ()  # job types whose end may change what it finds (a verify, a reindex)

    @abc.abstractmethod
    def run(self) -> Iterator[Diagnostic]: ...
