"""The job-type registry: each type is declared once, by the app that owns its work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms

from chlops.exceptions import ChlopsError

if TYPE_CHECKING:
    from operations.runner import RunContext


@dataclass(frozen=True)
class JobType:
    name: str
    label: str
    run: Callable[[RunContext, dict[str, Any]], dict | None]
    form: type[forms.Form]
    queue: str = "jobs"
    # A fixed key, or a function of the cleaned parameters; None means "no lock".
    lock_key: str | Callable[[dict[str, Any]], str | None] | None = None
    cancellable: bool = True

    def lock_for(self, params: dict[str, Any]) -> str | None:
        return self.lock_key(params) if callable(self.lock_key) else self.lock_key


class UnknownJobType(ChlopsError):
    pass


_types: dict[str, JobType] = {}


def register(job_type: JobType) -> JobType:
    _types[job_type.name] = job_type
    return job_type


def get(name: str) -> JobType:
    try:
        return _types[name]
    except KeyError:
        known = ", ".join(sorted(_types)) or "none"
        raise UnknownJobType(f"Unknown job type {name!r}. Known types: {known}.") from None


def all_types() -> list[JobType]:
    return sorted(_types.values(), key=lambda t: t.name)
