"""The run card's operations of `indexes`, registered with `operations` by the app's ready()."""

from __future__ import annotations

from django import forms

from operations.registry import Operation


class ImportUploadForm(forms.Form):
    """The upload operation gathers a file; the import job then takes the stored upload's id."""

    file = forms.FileField(label="File", help_text="CSV, JSONL or a JSON array of entries.")


OPERATIONS = (
    Operation(
        slug="import-upload",
        title="Import an uploaded file",
        job_type="import",
        button="Upload and import",
        form=ImportUploadForm,
        upload=("file", "upload"),
        order=10,
    ),
    Operation(
        slug="import-path", title="Import from a path", job_type="import", button="Import",
        fields=("path",), required=("path",), order=20,
    ),
    Operation(
        slug="import-url", title="Import from a URL", job_type="import", button="Import",
        fields=("url",), required=("url",), order=30,
    ),
    Operation(slug="ingest", title="Ingest a git repository", job_type="ingest", button="Ingest", order=50),
    Operation(slug="sparse", title="Generate sparse vectors", job_type="sparse", button="Generate", order=60),
    Operation(slug="export", title="Export the corpus", job_type="export", button="Export", order=70),
)
