"""What apps bring to the engine, each declared once by the app that owns it: job types, the
run card's operations, and backlog probes (work waiting that a drain must see through)."""

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
    module: str = "jobs"  # the monitored module (DESIGN §10) whose work its runs are

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


# --- The run card's operations ---------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One form of the "Run an operation" card, and the job it starts.

    The form is the job type's own parameter form, showing only `fields` (all when None), so the card
    and the API validate alike; `form` replaces it when the card gathers something else (a file).
    """

    slug: str
    title: str
    job_type: str
    button: str
    fields: tuple[str, ...] | None = None
    required: tuple[str, ...] = ()  # fields the card requires though the job takes them optionally
    form: type[forms.Form] | None = None
    # (the form's file field, the job parameter that takes the stored upload's id), for a form with a file.
    upload: tuple[str, str] | None = None
    order: int = 100

    def make_form(self, data=None, files=None) -> forms.Form:
        form = (self.form or get(self.job_type).form)(data=data, files=files, prefix=self.slug)
        if self.form is None and self.fields is not None:
            for name in [name for name in form.fields if name not in self.fields]:
                del form.fields[name]
        for name in self.required:
            form.fields[name].required = True
        return form

    def params(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in cleaned.items() if value not in (None, "")}

    def field_for(self, param: str) -> str:
        """The form field where an error in job parameter `param` belongs."""
        return self.upload[0] if self.upload and param == self.upload[1] else param


_operations: dict[str, Operation] = {}


def operation_register(operation: Operation) -> Operation:
    _operations[operation.slug] = operation
    return operation


def operations_available() -> list[Operation]:
    """The run card's operations whose job type is registered in this deployment, in card order."""
    return sorted((op for op in _operations.values() if op.job_type in _types), key=lambda op: (op.order, op.slug))


def operation_get(slug: str) -> Operation | None:
    return next((op for op in operations_available() if op.slug == slug), None)


# --- Backlog probes ----------------------------------------------------------------------------

_backlogs: dict[str, Callable[[], int]] = {}


def backlog_register(name: str, probe: Callable[[], int]) -> None:
    """Register work waiting outside the broker (say, entries to embed) under the name reports use."""
    _backlogs[name] = probe


def backlogs() -> dict[str, int]:
    return {name: probe() for name, probe in sorted(_backlogs.items())}
