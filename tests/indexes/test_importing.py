from __future__ import annotations

import json

import pytest
from django.utils import timezone

from indexes.models import EmbeddingState, Entry
from indexes.services.importing import ImportFailed
from indexes.services.importing.rows import Row
from indexes.services.importing.seen import SeenKeys
from tests.indexes.factories import FakeContext, csv_text, run_import

pytestmark = pytest.mark.django_db


def errors_of(result: dict) -> dict[int, str]:
    return {error["row"]: error["error"] for error in result["errors"]}


class BadRowTests:
    def test_unknown_kind_is_rejected_with_its_row(self):
        result = run_import(csv_text(("manual", "m1", "", "", "", ""), ("recipe", "r1", "", "", "", "")))
        assert result["created"] == 1
        assert result["rejected"] == 1
        assert errors_of(result) == {3: "Unknown kind 'recipe'; use experience, manual or document."}

    def test_missing_kind_is_rejected(self):
        result = run_import(csv_text(("", "x1", "t", "b", "", "")))
        assert errors_of(result) == {2: "The kind is missing; use experience, manual or document."}

    def test_missing_kind_key_in_json_lines_is_rejected(self):
        result = run_import('{"external_id": "x1"}\n{"kind": "manual", "external_id": "x2"}\n', suffix=".jsonl")
        assert errors_of(result) == {1: "The kind is missing; use experience, manual or document."}
        assert result["created"] == 1

    def test_empty_external_id_is_rejected(self):
        result = run_import(csv_text(("manual", "", "t", "b", "", ""), ("manual", "   ", "t", "b", "", "")))
        message = "The external_id is empty; every entry needs one, unique within its kind."
        assert errors_of(result) == {2: message, 3: message}
        assert not Entry.objects.exists()

    def test_invalid_json_in_metadata_is_rejected(self):
        result = run_import(csv_text(("manual", "m1", "t", "b", "", "{not json"), ("manual", "m2", "t", "b", "", "{}")))
        error = errors_of(result)[2]
        assert error.startswith("The metadata is not valid JSON (")
        assert 'write an object like {"source": "wiki"}' in error
        assert result["created"] == 1

    def test_metadata_that_is_not_an_object_is_rejected(self):
        result = run_import(csv_text(("manual", "m1", "t", "b", "", "[1, 2]")))
        assert errors_of(result) == {2: 'The metadata must be a JSON object like {"source": "wiki"}, not a list.'}

    def test_body_over_one_megabyte_is_rejected(self):
        big = "é" * (512 * 1024 + 1)  # 1 MB and 2 bytes in UTF-8, though fewer characters
        result = run_import(
            csv_text(("manual", "big", "t", big, "", ""), ("manual", "ok", "t", "x" * 1024 * 1024, "", ""))
        )
        assert errors_of(result) == {
            2: "The body is larger than 1 MB (1,048,576 bytes); split it into several entries."
        }
        assert list(Entry.objects.values_list("external_id", flat=True)) == ["ok"]

    def test_row_with_bytes_that_are_not_utf8_is_rejected_and_the_rest_imported(self):
        content = csv_text(("manual", "good", "Café", "b", "", "")).encode() + b"manual,bad,Caf\xe9,b,,\r\n"
        result = run_import(content)
        assert errors_of(result) == {
            3: "This row holds bytes that are not UTF-8 text; save the file as UTF-8 and import it again."
        }
        assert Entry.objects.get().title == "Café"

    def test_nul_character_is_rejected_on_every_database(self):
        result = run_import(
            csv_text(
                ("manual", "n1", "a\x00b", "", "", ""),
                ("manual", "n2", "", "", "", '{"k": "\\u0000"}'),
                ("manual", "ok", "", "", "", ""),
            )
        )
        message = "This row contains a NUL character (\\x00 or \\u0000), which text cannot hold; remove it."
        assert errors_of(result) == {2: message, 3: message}
        assert result["created"] == 1

    def test_row_with_the_wrong_number_of_fields_is_rejected(self):
        result = run_import("kind,external_id,title\r\nmanual,m1,a title, with a comma\r\n")
        assert errors_of(result) == {
            2: "This row has 4 fields but the header has 3; put fields that contain commas in double quotes."
        }

    def test_duplicate_within_the_file_is_rejected_naming_the_first(self):
        result = run_import(
            csv_text(
                ("manual", "m1", "first", "", "", ""),
                ("experience", "m1", "other kind", "", "", ""),
                ("manual", "m1", "second", "", "", ""),
            )
        )
        assert errors_of(result) == {
            4: "This is a duplicate of row 2: the same kind and external_id; only the first is imported."
        }
        assert Entry.objects.get(kind="manual").title == "first"
        assert result["created"] == 2

    def test_duplicates_are_found_across_batches(self, settings):
        settings.CHLOPS_IMPORT_BATCH_SIZE = 2
        rows = [("manual", f"m{i}", "", "", "", "") for i in range(5)] + [("manual", "m0", "again", "", "", "")]
        result = run_import(csv_text(*rows))
        assert errors_of(result) == {
            7: "This is a duplicate of row 2: the same kind and external_id; only the first is imported."
        }

    def test_errors_list_is_capped_and_says_how_many_more(self):
        rows = [("nope", f"x{i}", "", "", "", "") for i in range(1005)]
        result = run_import(csv_text(*rows))
        assert result["rejected"] == 1005
        assert len(result["errors"]) == 1000
        assert result["errors_omitted"] == 5
        assert "5 more rows were rejected" in result["errors_note"]


class EncodingTests:
    def test_bom_is_ignored(self):
        result = run_import(b"\xef\xbb\xbf" + csv_text(("manual", "m1", "T", "B", "", "")).encode())
        assert result["created"] == 1
        assert Entry.objects.get().kind == "manual"

    def test_bom_before_json_lines_is_ignored(self):
        result = run_import(b'\xef\xbb\xbf{"kind": "manual", "external_id": "j1"}\n', suffix=".jsonl")
        assert result["created"] == 1

    @pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"], ids=["crlf", "cr", "lf"])
    def test_any_line_ending_reads_the_same(self, newline):
        text = csv_text(
            ("manual", "m1", "T1", "B1", "a,b", ""), ("manual", "m2", "T2", "B2", "", ""), lineterminator=newline
        )
        result = run_import(text)
        assert result == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 0, "errors": []}
        assert list(Entry.objects.values_list("external_id", "title", "body", "tags")) == [
            ("m1", "T1", "B1", ["a", "b"]),
            ("m2", "T2", "B2", []),
        ]

    def test_quoted_fields_keep_commas_quotes_and_newlines(self):
        body = 'He said "hi", then left.\r\nSecond line\nThird line\rFourth'
        text = 'kind,external_id,title,body\r\nmanual,q1,"A, B and ""C""","' + body.replace('"', '""') + '"\r\n'
        result = run_import(text)
        assert result["created"] == 1
        entry = Entry.objects.get()
        assert entry.title == 'A, B and "C"'
        assert entry.body == body

    def test_binary_file_fails_the_job(self):
        png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
        with pytest.raises(ImportFailed) as failed:
            run_import(png)
        assert failed.value.message == (
            "The file is not CSV or JSON: it looks like binary data, not UTF-8 text. "
            "Import a CSV, JSON Lines or JSON file saved as UTF-8."
        )

    def test_utf16_file_fails_saying_to_save_it_as_utf8(self):
        with pytest.raises(ImportFailed) as failed:
            run_import(csv_text(("manual", "m1", "", "", "", "")).encode("utf-16"))
        assert (
            failed.value.message
            == "The file is UTF-16 text; save it as UTF-8 (with or without BOM) and import it again."
        )


class WholeFileTests:
    def test_empty_file_fails(self):
        with pytest.raises(ImportFailed) as failed:
            run_import(b"")
        assert failed.value.message == "The file is empty."

    def test_blank_file_fails(self):
        with pytest.raises(ImportFailed) as failed:
            run_import(b"\r\n  \n\n")
        assert failed.value.message == "The file is empty: it holds nothing but blank lines."

    def test_text_that_is_not_csv_or_json_fails_saying_so(self):
        with pytest.raises(ImportFailed) as failed:
            run_import("Dear team,\nplease find the notes below.\n", suffix=".txt")
        assert failed.value.message.startswith(
            "The file is not CSV or JSON that can be imported: a CSV file must start"
        )
        assert "Its first row has: 'Dear team', ''." in failed.value.message

    def test_broken_json_array_fails_saying_so(self):
        with pytest.raises(ImportFailed) as failed:
            run_import('[{"kind": "manual", "external_id": "a"}, {"kind": ', suffix=".json")
        assert failed.value.message.startswith("The file starts with '[' but is not a valid JSON array after entry 1:")

    def test_json_lines_whose_first_line_is_not_json_fails(self):
        with pytest.raises(ImportFailed) as failed:
            run_import('{\n  "kind": "manual"\n}\n', suffix=".json")
        assert (
            "it was read as JSON Lines (one JSON object per line), but line 1 is not valid JSON" in failed.value.message
        )

    def test_failure_after_committed_batches_says_what_was_imported(self, settings):
        settings.CHLOPS_IMPORT_BATCH_SIZE = 1
        with pytest.raises(ImportFailed) as failed:
            run_import(
                '[{"kind": "manual", "external_id": "a"}, {"kind": "manual", "external_id": "b"}, oops]', suffix=".json"
            )
        assert "The batches before it were imported (2 created, 0 updated)" in failed.value.message
        assert Entry.objects.count() == 2

    def test_header_only_imports_nothing(self):
        assert run_import("kind,external_id\r\n")["created"] == 0

    def test_unknown_columns_are_ignored_and_logged(self):
        ctx = FakeContext()
        result = run_import("kind,external_id,colour\r\nmanual,m1,red\r\n", ctx=ctx)
        assert result["created"] == 1
        assert "Ignoring columns that entries do not have: colour." in ctx.logs

    def test_header_names_are_case_and_space_insensitive(self):
        result = run_import(" Kind , External_ID ,Title\r\nmanual,m1,T\r\n")
        assert result["created"] == 1
        assert Entry.objects.get().title == "T"


class FormatTests:
    def test_json_array_with_list_tags_and_object_metadata(self):
        data = [
            {
                "kind": "document",
                "external_id": "d1",
                "title": "T",
                "body": "B",
                "tags": [" x ", "y"],
                "metadata": {"a": 1.5},
            },
            {"kind": "manual", "external_id": 7},
            42,
        ]
        result = run_import(json.dumps(data), suffix=".json")
        assert result["created"] == 2
        assert errors_of(result) == {3: "This entry is a JSON int, not an object with kind and external_id."}
        assert Entry.objects.get(kind="document").tags == ["x", "y"]
        assert Entry.objects.get(kind="document").metadata == {"a": 1.5}
        assert Entry.objects.filter(kind="manual", external_id="7").exists()

    def test_json_lines_reject_bad_lines_by_line_number(self):
        text = '{"kind": "manual", "external_id": "a"}\n\n{"kind": "manual", "external_id": \n{"kind": "manual", "external_id": "b", "tags": "p, q"}\n'
        result = run_import(text, suffix=".jsonl")
        assert result["created"] == 2
        assert errors_of(result)[3].startswith("This line is not valid JSON:")
        assert Entry.objects.get(external_id="b").tags == ["p", "q"]

    def test_tag_with_a_comma_is_rejected_in_json(self):
        result = run_import('{"kind": "manual", "external_id": "a", "tags": ["x,y"]}\n', suffix=".jsonl")
        assert errors_of(result) == {1: "The tag 'x,y' contains a comma; tags cannot."}

    def test_progress_counts_bytes_against_the_file_size(self):
        text = csv_text(*[("manual", f"m{i}", "", "", "", "") for i in range(10)])
        ctx = FakeContext()
        run_import(text, ctx=ctx)
        assert ctx.calls[0][2] == "importing"
        assert ctx.calls[-1][:2] == (len(text.encode()), len(text.encode()))
        assert ctx.checkpoints >= 1


class UpsertTests:
    def test_importing_the_same_file_twice_changes_nothing(self):
        text = csv_text(("manual", "m1", "T", "B", "a", '{"k": 1}'), ("experience", "e1", "T", "B", "", ""))
        first = run_import(text)
        before = list(Entry.objects.values_list("pk", "updated_at", "content_hash"))
        second = run_import(text)
        assert first["created"] == 2
        assert second == {"created": 0, "updated": 0, "unchanged": 2, "rejected": 0, "errors": []}
        assert list(Entry.objects.values_list("pk", "updated_at", "content_hash")) == before

    def test_new_rows_are_stamped_and_wait_for_embedding(self):
        before = timezone.now()
        run_import(csv_text(("manual", "m1", "T", "B", "", "")))
        entry = Entry.objects.get()
        assert before <= entry.created_at == entry.updated_at <= timezone.now()
        assert (entry.embedding_state, entry.embedding_error) == (EmbeddingState.PENDING, "")

    def test_changed_body_updates_and_makes_the_embedding_pending(self):
        run_import(csv_text(("manual", "m1", "T", "old", "", "")))
        Entry.objects.update(embedding_state=EmbeddingState.READY)
        result = run_import(csv_text(("manual", "m1", "T", "new", "", "")))
        entry = Entry.objects.get()
        assert result["updated"] == 1
        assert (entry.body, entry.embedding_state) == ("new", EmbeddingState.PENDING)
        assert entry.content_hash == Entry.hash_content(title="T", body="new", tags=[], metadata={})

    def test_changed_tags_only_keep_the_embedding(self):
        run_import(csv_text(("manual", "m1", "T", "B", "a", "")))
        Entry.objects.update(embedding_state=EmbeddingState.READY)
        result = run_import(csv_text(("manual", "m1", "T", "B", "a,b", '{"x": true}')))
        entry = Entry.objects.get()
        assert result["updated"] == 1
        assert (entry.tags, entry.metadata, entry.embedding_state) == (["a", "b"], {"x": True}, EmbeddingState.READY)


def row(number: int, key: int) -> Row:
    return Row(number, "manual", str(key), "", "", [], {}, "", key)


class SeenKeysTests:
    def test_repeat_is_reported_with_the_first_row_after_compaction(self):
        seen = SeenKeys(compact_at=4)
        for start in range(0, 40, 5):
            accepted, duplicates = seen.admit([row(n, n) for n in range(start + 1, start + 6)])
            assert len(accepted) == 5 and duplicates == []
        assert len(seen.runs) <= 4
        accepted, duplicates = seen.admit([row(100, 3), row(101, 39), row(102, 1000), row(103, 1000)])
        assert [(r.number, first) for r, first in duplicates] == [(100, 3), (101, 39), (103, 102)]
        assert [r.number for r in accepted] == [102]
        assert len(seen) == 41
