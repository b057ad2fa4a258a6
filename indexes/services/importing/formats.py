"""Tell CSV, JSON Lines and a JSON array apart by their first bytes, and read their rows one by one.

Each reader yields `(row number, values)`, where values are the raw
`(kind, external_id, title, body, tags, metadata)` of one row, or a RowRejected saying why the row
cannot even be read. Rows are numbered as a person finds them: CSV as a spreadsheet shows it (the
header is row 1), JSON Lines by line, a JSON array by position (its first entry is row 1).
"""

from __future__ import annotations

import csv
import io
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

import ijson

from indexes.services.importing.errors import ImportFailed, RowRejected

COLUMNS = ("kind", "external_id", "title", "body", "tags", "metadata")
REQUIRED = ("kind", "external_id")
BOM = b"\xef\xbb\xbf"
BLANK = b" \t\r\n"
SNIFF_BYTES = 64 * 1024
# A field may be far larger than a body may be, so that an oversized body is rejected with its row
# number rather than stopping the reader; past this the file cannot be read on.
CSV_FIELD_LIMIT = 32 * 1024 * 1024
NOT_TEXT = re.compile(rb"[\x00-\x08\x0e-\x1f]")
UNDECODABLE = re.compile("[\udc80-\udcff]")
NOT_CORPUS = (
    "The file is not CSV or JSON that can be imported: a CSV file must start with a header row naming "
    "the columns kind and external_id, JSON Lines with {{ and a JSON array with [. {found}"
)

Values = tuple[Any, Any, Any, Any, Any, Any]
Rows = Iterator[tuple[int, "Values | RowRejected"]]


class Reader(ABC):
    """Rows of one file; `text` says whether tags and metadata arrive as text (CSV) or as JSON."""

    format = ""
    text = False
    ignored: tuple[str, ...] = ()

    @abstractmethod
    def __iter__(self) -> Rows: ...


def reader_open(stream: io.BufferedReader) -> Reader:
    """Look at the first bytes and return the reader for the file's format, or raise ImportFailed."""
    first = stream.peek(SNIFF_BYTES)
    if not first:
        raise ImportFailed("The file is empty.")
    if first.startswith(BOM):
        stream.read(len(BOM))
    while True:
        head = stream.peek(SNIFF_BYTES)
        if not head:
            raise ImportFailed("The file is empty: it holds nothing but blank lines.")
        _refuse_binary(head)
        content = head.lstrip(BLANK)
        if content:
            break
        stream.read(len(head))  # blank space before the content means nothing in any of the formats
    if content[:1] == b"[":
        return JsonArrayReader(stream)
    if content[:1] == b"{":
        return JsonLinesReader(stream)
    return CsvReader(stream)


def _refuse_binary(head: bytes) -> None:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFailed("The file is UTF-16 text; save it as UTF-8 (with or without BOM) and import it again.")
    undecodable = len(UNDECODABLE.findall(head.decode("utf-8", errors="surrogateescape")))
    control = len(NOT_TEXT.findall(head))
    # Text in a legacy encoding has a few undecodable bytes, and a stray control byte is one bad
    # row; both are rejected row by row. Images, archives and executables are full of them.
    if (undecodable + control) * 10 > len(head):
        raise ImportFailed(
            "The file is not CSV or JSON: it looks like binary data, not UTF-8 text. "
            "Import a CSV, JSON Lines or JSON file saved as UTF-8."
        )


class CsvReader(Reader):
    format = "csv"
    text = True

    def __init__(self, stream: io.BufferedReader) -> None:
        csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
        # newline="" hands CRLF, CR and LF to the csv module, which knows quoted newlines from line ends.
        self._text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
        self._rows = csv.reader(self._text)
        self._number = 0
        header = self._header()
        names = [name.strip().lower() for name in header]
        missing = [name for name in REQUIRED if name not in names]
        if missing:
            shown = ", ".join(repr(name[:40]) for name in header[:8])
            raise ImportFailed(NOT_CORPUS.format(found=f"Its first row has: {shown}."))
        twice = sorted({name for name in names if names.count(name) > 1 and name in COLUMNS})
        if twice:
            raise ImportFailed(f"The CSV header names the column {twice[0]!r} more than once; keep one of them.")
        self.width = len(names)
        self.columns = tuple(names.index(name) if name in names else None for name in COLUMNS)
        self.ignored = tuple(name for name in names if name not in COLUMNS)

    def _header(self) -> list[str]:
        for fields in self._read():
            if any(field.strip() for field in fields):
                return fields
        raise ImportFailed("The file is empty: it holds nothing but blank lines.")

    def _read(self) -> Iterator[list[str]]:
        while True:
            try:
                fields = next(self._rows)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ImportFailed(
                    f"The CSV file cannot be read at row {self._number + 1}: {exc}. "
                    "Check its quoting: a field with commas, quotes or line breaks must be in double quotes, "
                    "with each quote inside it doubled."
                ) from None
            self._number += 1
            yield fields

    def __iter__(self) -> Rows:
        columns, width = self.columns, self.width
        for fields in self._read():
            if not fields:
                continue  # a blank line
            if len(fields) != width:
                yield (
                    self._number,
                    RowRejected(
                        f"This row has {len(fields)} fields but the header has {width}; "
                        "put fields that contain commas in double quotes."
                    ),
                )
                continue
            yield self._number, tuple(None if index is None else fields[index] for index in columns)


class JsonLinesReader(Reader):
    format = "jsonl"

    def __init__(self, stream: io.BufferedReader) -> None:
        self._text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline=None)

    def __iter__(self) -> Rows:
        first = True
        for number, line in enumerate(self._text, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line, parse_constant=_refuse_constant)
            except ValueError as exc:
                reason = _json_reason(exc)
                if first:
                    raise ImportFailed(
                        "The file starts with '{' so it was read as JSON Lines (one JSON object per line), "
                        f"but line {number} is not valid JSON: {reason}. "
                        "A single JSON document must be a list: [ {...}, {...} ]."
                    ) from None
                yield number, RowRejected(f"This line is not valid JSON: {reason}.")
                continue
            first = False
            yield number, _json_values(obj)


class JsonArrayReader(Reader):
    format = "json"

    def __init__(self, stream: io.BufferedReader) -> None:
        self._items = ijson.items(stream, "item", use_float=True)

    def __iter__(self) -> Rows:
        number = 0
        items = iter(self._items)
        while True:
            try:
                obj = next(items)
            except StopIteration:
                return
            except ijson.JSONError as exc:
                after = f"after entry {number}" if number else "at its start"
                raise ImportFailed(
                    f"The file starts with '[' but is not a valid JSON array {after}: {exc}. "
                    "Check it with a JSON validator; JSON must be UTF-8 text."
                ) from None
            number += 1
            yield number, _json_values(obj)


def _json_values(obj: Any) -> Values | RowRejected:
    if not isinstance(obj, dict):
        return RowRejected(f"This entry is a JSON {type(obj).__name__}, not an object with kind and external_id.")
    get = obj.get
    return (get("kind"), get("external_id"), get("title"), get("body"), get("tags"), get("metadata"))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    return str(exc)
