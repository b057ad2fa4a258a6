"""Turn audit rows into CSV or JSON Lines text, chunk by chunk.

The CSV is opened in spreadsheets, and some of its cells hold text anyone can choose (the name tried at a
failed login), so it is written by defusedcsv: a cell that would start a formula gets a leading apostrophe.
JSON Lines keeps every value exact.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from defusedcsv import csv

from audit.selectors import EXPORT_FIELDS

FORMATS = ("csv", "jsonl")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if value is not None and not isinstance(value, (str, int, float, bool, dict, list)):
        return str(value)  # UUID
    return value


def export_lines(chunks: Iterable[list[tuple]], *, format: str) -> Iterator[str]:
    """Yield the export as text: a header (CSV only), then one piece of text per chunk of rows."""
    if format == "csv":
        yield _csv_text([EXPORT_FIELDS])
        for chunk in chunks:
            yield _csv_text(
                [
                    [
                        json.dumps(value, sort_keys=True)
                        if name == "details"
                        else ("" if value is None else _plain(value))
                        for name, value in zip(EXPORT_FIELDS, row, strict=True)
                    ]
                    for row in chunk
                ]
            )
    elif format == "jsonl":
        for chunk in chunks:
            yield "".join(
                json.dumps({name: _plain(value) for name, value in zip(EXPORT_FIELDS, row, strict=True)}) + "\n"
                for row in chunk
            )
    else:
        raise ValueError(f"unknown export format {format!r}; use one of {', '.join(FORMATS)}")


def _csv_text(rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()
