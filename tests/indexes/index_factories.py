"""Helpers of the index tests: entries with vectors, a run context, an index dir of the test's own."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from django.utils import timezone

from indexes.embedders import embedder_get
from indexes.models import EmbeddingState, Entry
from indexes.store import cache_clear, reload
from operations.runner import JobCancelled


def unit_rows(n: int, *, dimension: int = 384, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, dimension)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def entries_with_vectors(vectors: np.ndarray, *, kind: str = "manual", prefix: str = "v", titles=None) -> list[int]:
    """Create ready entries holding `vectors` as embeddings of the current embedder; return their ids."""
    model_id, now = embedder_get().model_id, timezone.now()
    entries = [
        Entry(
            kind=kind,
            external_id=f"{prefix}-{i}",
            title=titles[i] if titles else f"{prefix} {i}",
            content_hash=hashlib.sha256(f"{prefix}-{i}".encode()).hexdigest(),
            embedding=row.tobytes(),
            embedding_model=model_id,
            embedding_state=EmbeddingState.READY,
            embedded_at=now,
        )
        for i, row in enumerate(vectors)
    ]
    for start in range(0, len(entries), 2000):
        Entry.objects.bulk_create(entries[start : start + 2000])
    return list(Entry.objects.filter(external_id__startswith=f"{prefix}-", kind=kind).values_list("pk", flat=True))


def entries_embedded(rows: list[tuple[str, str, str]]) -> dict[str, int]:
    """Create ready entries (kind, external_id, title) embedded by the real embedder; return ids by external id."""
    vectors = embedder_get().embed([title for _, _, title in rows])
    ids = {}
    for (kind, external_id, title), vector in zip(rows, vectors, strict=True):
        ids[external_id] = entries_with_vectors(vector[None, :], kind=kind, prefix=external_id, titles=[title])[0]
        Entry.objects.filter(pk=ids[external_id]).update(external_id=external_id)
    return ids


class RunCtx:
    """The runner context, in process, for builds that need no worker; `cancel_in` cancels at a phase."""

    def __init__(self, *, cancel_in: str | None = None) -> None:
        self.job = SimpleNamespace(pk=0, source="cli", requested_by=None)
        self.correlation_id = uuid.uuid4()
        self.phases: list[str] = []
        self.cancel_in = cancel_in
        self.logs: list[str] = []

    def progress(self, done: int, total: int | None = None, *, phase: str | None = None) -> None:
        if phase and (not self.phases or self.phases[-1] != phase):
            self.phases.append(phase)

    def checkpoint(self) -> None:
        if self.cancel_in and self.phases and self.phases[-1] == self.cancel_in:
            raise JobCancelled

    def log(self, message: str, **data: Any) -> None:
        self.logs.append(message)


def tree_digest(path: Path) -> dict[str, str]:
    """Every file and link under path, with its content hash or link target."""
    found = {}
    for item in sorted(path.rglob("*")):
        key = str(item.relative_to(path))
        if item.is_symlink():
            found[key] = "-> " + str(item.readlink())
        elif item.is_file():
            found[key] = hashlib.sha256(item.read_bytes()).hexdigest()
    return found


def index_dir_isolated(settings, tmp_path: Path) -> Iterator[Path]:
    """For a fixture: an index dir of the test's own, with the process cache and Redis version key cleared."""
    settings.INDEX_DIR = tmp_path / "index"
    cache_clear()
    reload.redis_call(lambda r: r.delete(reload.VERSION_KEY))
    yield settings.INDEX_DIR
    cache_clear()
    reload.redis_call(lambda r: r.delete(reload.VERSION_KEY))
