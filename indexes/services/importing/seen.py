"""Remember where each (kind, external_id) of a file first appeared, in about 12 bytes a key."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indexes.services.importing.rows import Row


class SeenKeys:
    """The rows seen so far, so that a repeat is rejected as a duplicate of the first.

    A dict of a million keys would cost over 100 MB; here recent keys sit in a small dict and every
    `compact_at` of them become a sorted numpy run (8-byte hash, 4-byte row number). Runs merge
    like a binary counter, so there are few of them and each batch is looked up in one vectorised
    pass per run. The keys are 64-bit hashes: two different keys colliding is a 3 in 10^8 chance
    at 10^6 rows.
    """

    def __init__(self, *, compact_at: int = 65536) -> None:
        self.compact_at = compact_at
        self.recent: dict[int, int] = {}
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []

    def admit(self, rows: Sequence[Row]) -> tuple[list[Row], list[tuple[Row, int]]]:
        """Split rows into those seen for the first time and (duplicate, row number of the first)."""
        earlier = self._in_runs(rows)
        recent = self.recent
        accepted: list[Row] = []
        duplicates: list[tuple[Row, int]] = []
        for row, before in zip(rows, earlier, strict=True):
            first = before or recent.get(row.key)
            if first:
                duplicates.append((row, first))
            else:
                recent[row.key] = row.number
                accepted.append(row)
        if len(recent) >= self.compact_at:
            self._compact()
        return accepted, duplicates

    def __len__(self) -> int:
        return len(self.recent) + sum(len(keys) for keys, _ in self.runs)

    def _in_runs(self, rows: Sequence[Row]) -> list[int]:
        if not self.runs:
            return [0] * len(rows)
        keys = np.fromiter((row.key for row in rows), dtype=np.int64, count=len(rows))
        found = np.zeros(len(rows), dtype=np.int64)
        for run_keys, run_rows in self.runs:
            index = np.searchsorted(run_keys, keys)
            index[index == len(run_keys)] = 0
            hit = run_keys[index] == keys
            found[hit] = run_rows[index[hit]]
        return found.tolist()

    def _compact(self) -> None:
        keys = np.fromiter(self.recent.keys(), dtype=np.int64, count=len(self.recent))
        rows = np.fromiter(self.recent.values(), dtype=np.uint32, count=len(self.recent))
        order = np.argsort(keys)
        self.runs.append((keys[order], rows[order]))
        self.recent.clear()
        while len(self.runs) >= 2 and len(self.runs[-2][0]) <= len(self.runs[-1][0]):
            (keys_a, rows_a), (keys_b, rows_b) = self.runs.pop(-2), self.runs.pop()
            keys, rows = np.concatenate((keys_a, keys_b)), np.concatenate((rows_a, rows_b))
            order = np.argsort(keys)
            self.runs.append((keys[order], rows[order]))
