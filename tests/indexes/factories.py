"""Helpers for corpus tests: files in the import directory and a stand-in run context."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from django.conf import settings

from indexes.models import Entry
from indexes.services.importing import entries_import

HEADER = ("kind", "external_id", "title", "body", "tags", "metadata")


class FakeContext:
    """The runner context's three methods, recorded; only for tests of parsing and writing."""

    def __init__(self, job_id: int = 1) -> None:
        self.job = SimpleNamespace(pk=job_id)
        self.calls: list[tuple[int, int | None, str | None]] = []
        self.logs: list[str] = []
        self.checkpoints = 0

    def progress(self, done: int, total: int | None = None, *, phase: str | None = None) -> None:
        self.calls.append((done, total, phase))

    def checkpoint(self) -> None:
        self.checkpoints += 1

    def log(self, message: str, **data: Any) -> None:
        self.logs.append(message)


def import_file(content: bytes | str, *, suffix: str = ".csv") -> str:
    """Write content into the import directory; return its path relative to it."""
    settings.IMPORT_DIR.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}{suffix}"
    data = content.encode() if isinstance(content, str) else content
    (settings.IMPORT_DIR / name).write_bytes(data)
    return name


def run_import(content: bytes | str, *, suffix: str = ".csv", ctx: FakeContext | None = None) -> dict:
    return entries_import(ctx or FakeContext(), {"path": import_file(content, suffix=suffix)})


def csv_text(*rows: tuple, header: tuple = HEADER, lineterminator: str = "\r\n") -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def write_big_csv(path: Path, *, rows: int, prefix: str = "doc") -> Path:
    """A CSV of `rows` distinct, valid manuals."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow(
                (
                    "manual",
                    f"{prefix}-{i}",
                    f"Title {i}",
                    f"Body of entry {i}, with a comma.",
                    "a,b",
                    json.dumps({"n": i}),
                )
            )
    return path


WEB_CSV = csv_text(("manual", "u1", "From the web", "B", "", ""), ("manual", "u2", "Also", "B", "", "")).encode()


def corpus() -> list[tuple]:
    """The corpus as comparable tuples, in a stable order."""
    return list(
        Entry.objects.order_by("kind", "external_id").values_list(
            "kind", "external_id", "title", "body", "tags", "metadata"
        )
    )
