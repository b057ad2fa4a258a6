"""The dashboard's forms: they gather input; each job type's own form validates the parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms

from operations import registry
from operations.models import JobState


class CanaryStartForm(forms.Form):
    seconds = forms.FloatField(
        label="Seconds",
        required=False,
        initial=20,
        widget=forms.NumberInput(attrs={"step": "any", "min": "0", "max": "3600"}),
        help_text="How long the canary ticks; 0 to 3600.",
    )


class ImportUploadForm(forms.Form):
    file = forms.FileField(label="File", help_text="CSV, JSONL or a JSON array of entries.")


class ImportPathForm(forms.Form):
    path = forms.CharField(label="Path", max_length=4096, help_text="A file inside the import directory.")


class ImportUrlForm(forms.Form):
    url = forms.CharField(label="URL", max_length=4096, help_text="An http:// or https:// address.")


class IngestStartForm(forms.Form):
    url = forms.CharField(label="Repository", max_length=4096, help_text="A git URL, or a local path inside CHLOPS_INGEST_ROOTS.")
    ref = forms.CharField(label="Ref", required=False, max_length=255, help_text="Branch, tag or commit; empty for the default branch.")


class SparseStartForm(forms.Form):
    """Generating sparse vectors takes no input."""


class ExportStartForm(forms.Form):
    format = forms.ChoiceField(label="Format", choices=[("csv", "CSV"), ("jsonl", "JSONL")], initial="csv")
    kinds = forms.CharField(
        label="Kinds",
        required=False,
        help_text="Comma-separated, e.g. experience,manual; empty for every kind.",
    )


@dataclass(frozen=True)
class Operation:
    """One form of the "Run an operation" card, and the job it starts."""

    slug: str
    title: str
    job_type: str
    form: type[forms.Form]
    params: Callable[[dict[str, Any]], dict[str, Any]]
    button: str
    # Names of job parameters whose errors belong to a differently named form field.
    field_for_param: tuple[tuple[str, str], ...] = ()

    def make_form(self, data=None, files=None) -> forms.Form:
        return self.form(data=data, files=files, prefix=self.slug)

    def field_for(self, param: str) -> str | None:
        return dict(self.field_for_param).get(param, param)


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        slug="import-upload",
        title="Import an uploaded file",
        job_type="import",
        form=ImportUploadForm,
        params=lambda cleaned: {"upload": cleaned["upload"]},
        button="Upload and import",
        field_for_param=(("upload", "file"),),
    ),
    Operation(
        slug="import-path",
        title="Import from a path",
        job_type="import",
        form=ImportPathForm,
        params=lambda cleaned: {"path": cleaned["path"]},
        button="Import",
    ),
    Operation(
        slug="import-url",
        title="Import from a URL",
        job_type="import",
        form=ImportUrlForm,
        params=lambda cleaned: {"url": cleaned["url"]},
        button="Import",
    ),
    Operation(
        slug="canary",
        title="Canary",
        job_type="canary",
        form=CanaryStartForm,
        params=lambda cleaned: {} if cleaned["seconds"] is None else {"seconds": cleaned["seconds"]},
        button="Start canary",
    ),
    Operation(
        slug="ingest",
        title="Ingest a git repository",
        job_type="ingest",
        form=IngestStartForm,
        params=lambda cleaned: {"url": cleaned["url"], "ref": cleaned["ref"]},
        button="Ingest",
    ),
    Operation(
        slug="sparse",
        title="Generate sparse vectors",
        job_type="sparse",
        form=SparseStartForm,
        params=lambda cleaned: {},
        button="Generate",
    ),
    Operation(
        slug="export",
        title="Export the corpus",
        job_type="export",
        form=ExportStartForm,
        params=lambda cleaned: {"format": cleaned["format"], "kinds": cleaned["kinds"]},
        button="Export",
    ),
)


def operations_available() -> list[Operation]:
    """The operations whose job type is registered in this deployment."""
    known = {t.name for t in registry.all_types()}
    return [op for op in OPERATIONS if op.job_type in known]


def operation_get(slug: str) -> Operation | None:
    return next((op for op in operations_available() if op.slug == slug), None)


class JobFilterForm(forms.Form):
    state = forms.ChoiceField(label="State", required=False)
    type = forms.ChoiceField(label="Type", required=False)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "filter-%s")
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", "All states"), *JobState.choices]
        self.fields["type"].choices = [("", "All types")] + [(t.name, t.label) for t in registry.all_types()]
