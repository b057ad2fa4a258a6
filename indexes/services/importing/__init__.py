"""Import entries from CSV, JSON Lines or a JSON array: streamed, checked row by row, upserted in batches.

The format is told from the content (DESIGN §6): a first non-blank byte `[` is a JSON array, `{` is
JSON Lines, anything else is CSV with a header row. The file is read in constant memory, a JSON
array included. Each batch of `CHLOPS_IMPORT_BATCH_SIZE` rows commits in one transaction, so a
stopped import leaves whole batches behind and importing the file again finishes the job.

Bytes that are not UTF-8 reject their row in CSV and JSON Lines; a JSON array is one document, so
there they stop the import. A file that looks binary fails at once.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from indexes.services.importing.errors import ImportFailed, RowRejected
from indexes.services.importing.formats import Reader, reader_open
from indexes.services.importing.rows import Row, row_clean
from indexes.services.importing.seen import SeenKeys
from indexes.services.importing.sources import Source, source_open
from indexes.services.importing.upsert import Tally, batch_write

TICK_ROWS = 256  # rows read between two looks at the clock for checkpoints and progress
TICK_SECONDS = 0.1

__all__ = ["ImportFailed", "entries_import"]


def entries_import(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Import the file that params name (upload, path or url); return counts and rejected rows."""
    source = source_open(params=params)
    try:
        return _Import(ctx, source).run()
    finally:
        source.close()


class _Import:
    def __init__(self, ctx: Any, source: Source) -> None:
        self.ctx = ctx
        self.source = source
        self.tally = Tally()
        self.seen = SeenKeys()
        self.batch_size = max(1, settings.CHLOPS_IMPORT_BATCH_SIZE)
        self.last_tick = time.monotonic()

    def run(self) -> dict[str, Any]:
        try:
            reader = reader_open(self.source.stream)
            self._announce(reader)
            self._rows(reader)
        except ImportFailed as exc:
            if self.tally.written:
                raise ImportFailed(
                    f"{exc.message} The batches before it were imported ({self.tally.created} created, "
                    f"{self.tally.updated} updated); fix the file and import it again, "
                    "and what is already imported will count as unchanged."
                ) from None
            raise
        self._progress()
        return self.tally.result()

    def _announce(self, reader: Reader) -> None:
        self.ctx.log(f"Reading {self.source.label} as {reader.format.upper()}.", format=reader.format)
        if reader.ignored:
            names = ", ".join(reader.ignored)
            self.ctx.log(f"Ignoring columns that entries do not have: {names}.", ignored=list(reader.ignored))
        self.ctx.progress(self.source.bytes_read, self.source.size, phase="importing")

    def _rows(self, reader: Reader) -> None:
        pending: list[Row] = []
        text = reader.text
        count = 0
        for number, values in reader:
            if isinstance(values, RowRejected):
                self.tally.reject(number, values.message)
            else:
                try:
                    pending.append(row_clean(number, values, text=text))
                except RowRejected as exc:
                    self.tally.reject(number, exc.message)
            if len(pending) >= self.batch_size:
                self._flush(pending)
                pending = []
            count += 1
            if count % TICK_ROWS == 0:
                self._tick()
        self._flush(pending)

    def _flush(self, rows: list[Row]) -> None:
        accepted, duplicates = self.seen.admit(rows)
        for row, first in duplicates:
            self.tally.reject(
                row.number,
                f"This is a duplicate of row {first}: the same kind and external_id; only the first is imported.",
            )
        self.ctx.checkpoint()
        batch_write(rows=accepted, tally=self.tally)
        self._progress()

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self.last_tick >= TICK_SECONDS:
            self.last_tick = now
            self.ctx.checkpoint()
            self._progress()

    def _progress(self) -> None:
        self.ctx.progress(self.source.bytes_read, self.source.size)
