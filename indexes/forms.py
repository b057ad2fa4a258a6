"""Parameters of the corpus jobs, validated before any job exists."""

from __future__ import annotations

from django import forms
from django.conf import settings

from indexes.ingest.errors import IngestFailed
from indexes.ingest.repository import ref_check, repository_check
from indexes.models import Kind
from indexes.services.importing.errors import ImportFailed
from indexes.services.importing.sources import import_path_resolve, url_check
from operations.models import Upload


class ImportParamsForm(forms.Form):
    upload = forms.UUIDField(required=False, help_text="The id of an uploaded file.")
    path = forms.CharField(
        label="Path", required=False, max_length=4096, help_text="A file inside the import directory."
    )
    url = forms.CharField(label="URL", required=False, max_length=4096, help_text="An http:// or https:// address.")

    def clean_upload(self) -> str | None:
        upload_id = self.cleaned_data.get("upload")
        if not upload_id:
            return None
        upload = Upload.objects.filter(pk=upload_id).first()
        if upload is None or not upload.path.is_file():
            raise forms.ValidationError("No uploaded file has this id; upload the file again.")
        return str(upload_id)

    def clean_path(self) -> str | None:
        raw = self.cleaned_data.get("path")
        if not raw:
            return None
        try:
            resolved = import_path_resolve(path=raw)
        except ImportFailed as exc:
            raise forms.ValidationError(exc.message) from None
        return str(resolved.relative_to(settings.IMPORT_DIR))

    def clean_url(self) -> str | None:
        raw = (self.cleaned_data.get("url") or "").strip()
        if not raw:
            return None
        try:
            return url_check(url=raw)
        except ImportFailed as exc:
            raise forms.ValidationError(exc.message) from None

    def clean(self):
        cleaned = super().clean()
        given = [name for name in ("upload", "path", "url") if cleaned.get(name)]
        if not self.errors and len(given) != 1:
            raise forms.ValidationError("Give exactly one source: an upload, a path or a URL.")
        return cleaned


def kinds_clean(raw) -> list[str]:
    parts = raw if isinstance(raw, list) else str(raw or "").split(",")
    values = list(dict.fromkeys(str(v).strip() for v in parts if str(v).strip()))
    unknown = sorted(set(values) - set(Kind.values))
    if unknown:
        raise forms.ValidationError(f"Unknown kind(s): {', '.join(unknown)}. Known: {', '.join(Kind.values)}.")
    return values


class EmbedParamsForm(forms.Form):
    kinds = forms.CharField(required=False, help_text="Comma-separated kinds to embed; all when empty.")
    all = forms.BooleanField(required=False, help_text="Re-embed every entry, even those that are ready.")

    def clean_kinds(self) -> list[str]:
        return kinds_clean(self.data.get(self.add_prefix("kinds")))


class ExportParamsForm(forms.Form):
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("jsonl", "JSONL")], required=False, initial="csv")
    kinds = forms.CharField(required=False, help_text="Comma-separated, e.g. experience,manual; empty for every kind.")

    def clean_format(self) -> str:
        return self.cleaned_data.get("format") or "csv"

    def clean_kinds(self) -> list[str]:
        return kinds_clean(self.data.get(self.add_prefix("kinds")))


class IngestParamsForm(forms.Form):
    url = forms.CharField(
        label="Repository", max_length=4096, help_text="A git URL (https, http, ssh, git), or a local path inside CHLOPS_INGEST_ROOTS."
    )
    ref = forms.CharField(
        label="Ref", required=False, max_length=255, help_text="Branch, tag or commit; empty for the default branch."
    )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        try:
            repository_check(url=url)
        except IngestFailed as exc:
            raise forms.ValidationError(exc.message) from None
        return url

    def clean_ref(self) -> str:
        ref = (self.cleaned_data.get("ref") or "").strip()
        if not ref:
            return ""
        try:
            return ref_check(ref=ref)
        except IngestFailed as exc:
            raise forms.ValidationError(exc.message) from None


class SparseParamsForm(forms.Form):
    """The sparse job takes no parameters."""


class ReindexParamsForm(forms.Form):
    """The reindex job takes no parameters: it indexes every ready embedding of the current embedder."""
