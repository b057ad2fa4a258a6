"""Export entries as CSV or JSON Lines, written atomically into the export directory."""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from chlops.exceptions import ChlopsError
from chlops.fileio import fsync_path
from indexes.selectors import EXPORT_FIELDS, entry_count, entry_rows_for_export

EXPORT_NAME = re.compile(r"entries-\d{8}-\d{6}-\d+\.(csv|jsonl)")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
TICK_ROWS = 256
TICK_SECONDS = 0.1


class ExportNotFound(ChlopsError):
    status = 404


def entries_export(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Write the entries of `kinds` (all when empty) as `format` (csv or jsonl); return the file's name."""
    fmt = params.get("format") or "csv"
    kinds = params.get("kinds") or []
    directory = settings.EXPORT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    job_id = getattr(getattr(ctx, "job", None), "pk", 0) or 0
    name = f"entries-{timezone.now():%Y%m%d-%H%M%S}-{job_id}.{fmt}"
    total = entry_count(kinds=kinds)
    ctx.progress(0, total, phase="exporting")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".entries-", suffix=".part")
    try:
        with open(fd, "w", encoding="utf-8", newline="") as out:
            rows = _write(ctx, out, fmt=fmt, kinds=kinds, total=total)
            out.flush()
            os.fsync(out.fileno())
        target = directory / name
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_path(directory)
    ctx.progress(rows, rows)
    return {"file": name, "rows": rows, "bytes": target.stat().st_size, "download_url": f"/api/exports/{name}"}


def export_path(*, name: str) -> Path:
    """Return the export file called `name`, or raise ExportNotFound; nothing outside the export dir."""
    missing = ExportNotFound(
        f"There is no export named {name[:80]!r}; run an export job and use the download_url in its result."
    )
    if not EXPORT_NAME.fullmatch(name):
        raise missing
    directory = settings.EXPORT_DIR.resolve()
    path = (directory / name).resolve()
    if path.parent != directory or not path.is_file():
        raise missing
    return path


def export_content_type(*, name: str) -> str:
    return CONTENT_TYPES[name.rsplit(".", 1)[-1]]


def _write(ctx: Any, out: Any, *, fmt: str, kinds: list[str], total: int) -> int:
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(EXPORT_FIELDS)
        write = writer.writerow
        encode = _csv_row
    else:
        write = out.write
        encode = _jsonl_row
    rows = 0
    last_tick = time.monotonic()
    for row in entry_rows_for_export(kinds=kinds):
        write(encode(row))
        rows += 1
        if rows % TICK_ROWS == 0 and time.monotonic() - last_tick >= TICK_SECONDS:
            last_tick = time.monotonic()
            ctx.checkpoint()
            ctx.progress(rows, total)
    return rows


def _csv_row(row: tuple) -> tuple:
    kind, external_id, title, body, tags, metadata = row
    return (kind, external_id, title, body, ",".join(tags or ()), json.dumps(metadata or {}, ensure_ascii=False))


def _jsonl_row(row: tuple) -> str:
    return json.dumps(dict(zip(EXPORT_FIELDS, row, strict=True)), ensure_ascii=False) + "\n"
