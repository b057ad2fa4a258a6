from __future__ import annotations

import json
import re

import pytest

from indexes.models import Entry
from indexes.services.exporting import entries_export
from indexes.services.importing import entries_import
from tests.indexes.factories import FakeContext, corpus, import_file

pytestmark = pytest.mark.django_db

TRICKY = [
    (
        "document",
        "repo/README.md",
        "Read me",
        'Quotes "here", commas, and\r\nCRLF, a lone\rCR, \n LF.',
        ["docs", "b c"],
        {"n": 1, "f": 0.1, "nested": [1, {"a": None}], "é": "ü"},
    ),
    ("experience", " spaced id ", "  leading space", "", [], {}),
    ("experience", "emoji-😀", "Ünïcödé 😀", "line\u2028separator and a tab\t", ["x"], {"big": 12345678901234567890}),
    ("manual", "m-1", "", "=1+1, looks like a formula", ["a", "b", "c"], {"s": "a,b", "q": '"'}),
]


def make_corpus() -> None:
    for kind, external_id, title, body, tags, metadata in TRICKY:
        Entry.objects.create(
            kind=kind,
            external_id=external_id,
            title=title,
            body=body,
            tags=tags,
            metadata=metadata,
            content_hash=Entry.hash_content(title=title, body=body, tags=tags, metadata=metadata),
        )


def export(settings, **params) -> tuple[dict, bytes]:
    result = entries_export(FakeContext(job_id=42), params)
    return result, (settings.EXPORT_DIR / result["file"]).read_bytes()


class ExportTests:
    def test_csv_export_names_the_file_and_its_download_url(self, settings):
        make_corpus()
        result, data = export(settings, format="csv")
        assert re.fullmatch(r"entries-\d{8}-\d{6}-42\.csv", result["file"])
        assert result == {
            "file": result["file"],
            "rows": 4,
            "bytes": len(data),
            "download_url": f"/api/exports/{result['file']}",
        }
        assert data.startswith(b"kind,external_id,title,body,tags,metadata\r\n")

    def test_export_leaves_no_temporary_file_behind(self, settings):
        make_corpus()
        export(settings, format="jsonl")
        assert not list(settings.EXPORT_DIR.glob(".entries-*"))

    def test_kinds_filter_exports_only_those_kinds(self, settings):
        make_corpus()
        result, data = export(settings, format="jsonl", kinds=["manual", "document"])
        kinds = [json.loads(line)["kind"] for line in data.decode().splitlines()]
        assert result["rows"] == 2
        assert kinds == ["document", "manual"]

    def test_progress_ends_at_the_row_count(self, settings):
        make_corpus()
        ctx = FakeContext()
        entries_export(ctx, {"format": "csv"})
        assert ctx.calls[0] == (0, 4, "exporting")
        assert ctx.calls[-1][:2] == (4, 4)


class RoundTripTests:
    @pytest.mark.parametrize("fmt", ["csv", "jsonl"])
    def test_import_of_an_export_reproduces_the_corpus_exactly(self, settings, fmt):
        make_corpus()
        original = corpus()
        hashes = sorted(Entry.objects.values_list("content_hash", flat=True))
        _, data = export(settings, format=fmt)
        Entry.objects.all().delete()
        result = entries_import(FakeContext(), {"path": import_file(data, suffix=f".{fmt}")})
        assert result == {"created": 4, "updated": 0, "unchanged": 0, "rejected": 0, "errors": []}
        assert corpus() == original
        assert sorted(Entry.objects.values_list("content_hash", flat=True)) == hashes

    @pytest.mark.parametrize("fmt", ["csv", "jsonl"])
    def test_importing_an_export_into_its_own_corpus_changes_nothing(self, settings, fmt):
        make_corpus()
        _, data = export(settings, format=fmt)
        result = entries_import(FakeContext(), {"path": import_file(data, suffix=f".{fmt}")})
        assert (result["unchanged"], result["created"], result["updated"]) == (4, 0, 0)
