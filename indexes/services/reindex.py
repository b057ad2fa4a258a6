"""The `reindex` job: every ready embedding of the current embedder into a new served FAISS index."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone

from audit.services import audit_record
from chlops.exceptions import ChlopsError
from indexes.embedders import embedder_get
from indexes.models import EmbeddingState, Entry, Kind
from indexes.store import Built, index_build, index_publish, set_write, staging_dir, staging_leftovers_remove
from operations import broadcasts

KIND_NAMES = list(Kind.values)
KIND_CODES = {name: code for code, name in enumerate(KIND_NAMES)}
INDEX_CARD = "index-card"


class NothingToIndex(ChlopsError):
    pass


class Progress:
    """One scale for all phases, so that the job's rate and ETA stay meaningful across them."""

    def __init__(self, ctx, vectors: int) -> None:
        self.ctx, self.n = ctx, vectors
        self.total = 2 * vectors + max(1, vectors // 10)
        self.offsets = {
            "loading": 0,
            "training": vectors,
            "adding": vectors,
            "writing": 2 * vectors,
            "measuring": 2 * vectors + max(1, vectors // 20),
        }

    def __call__(self, phase: str, done: int, total: int) -> None:
        share = done if phase in ("loading", "adding") else 0
        self.ctx.progress(self.offsets[phase] + share, self.total, phase=phase)


def index_rebuild(ctx, params: dict[str, Any]) -> dict[str, Any]:
    """Build an index from every ready embedding of the current embedder, then swap it in."""
    started = time.perf_counter()
    embedder = embedder_get()
    left = staging_leftovers_remove()
    if left:
        ctx.log("Removed sets left half-written by an earlier build.", dirs=left)
    vectors, ids, kinds, skipped = vectors_load(ctx, model_id=embedder.model_id, dimension=embedder.dimension)
    if skipped:
        ctx.log(f"Skipped {skipped} embeddings that are empty or of the wrong size.", skipped=skipped)
    if not len(ids):
        raise NothingToIndex(
            f"There are no ready embeddings from the embedder {embedder.model_id}; run the embed job first."
        )
    report = Progress(ctx, len(ids))
    with staging_dir() as staged:
        built = set_build(vectors, ids, kinds, staged=staged, report=report, checkpoint=ctx.checkpoint)
        del vectors  # the index holds its own copy
        manifest = {
            "vectors": int(len(ids)),
            "dimension": int(embedder.dimension),
            "embedder": embedder.model_id,
            "index_type": built.index_type,
            "search_params": built.search_params,
            "recall_at_10": built.recall_at_10,
            "kinds": KIND_NAMES,
            "built_at": timezone.now().isoformat(),
            "build_seconds": round(time.perf_counter() - started, 3),
            "correlation_id": str(ctx.correlation_id),
        }
        ctx.checkpoint()
        sealed = index_publish(staged=staged, manifest=manifest, hashes=built.written, checkpoint=ctx.checkpoint)
    summary = {
        key: sealed[key]
        for key in (
            "version",
            "vectors",
            "dimension",
            "embedder",
            "index_type",
            "recall_at_10",
            "build_seconds",
            "size_bytes",
        )
    }
    job = ctx.job
    audit_record(
        action="index.reindex",
        source=job.source,
        actor=job.requested_by,
        target=f"index v{sealed['version']}",
        details={**summary, "job_id": job.pk},
        correlation_id=ctx.correlation_id,
    )
    broadcasts.card_changed(INDEX_CARD)
    return summary


def set_build(
    vectors: np.ndarray,
    ids: np.ndarray,
    kinds: np.ndarray,
    *,
    staged: Path,
    report: Callable[[str, int, int], None],
    checkpoint: Callable[[], None],
) -> Built:
    """Build the index the settings ask for and write the set into `staged`, ready to publish."""
    return index_build(
        vectors,
        exact_max=settings.CHLOPS_INDEX_EXACT_MAX,
        approx=settings.CHLOPS_INDEX_APPROX,
        recall_target=settings.CHLOPS_INDEX_RECALL_TARGET,
        hnsw_m=settings.CHLOPS_INDEX_HNSW_M,
        report=report,
        checkpoint=checkpoint,
        # Written before recall is measured, so that the flush to disk overlaps the measuring.
        write=lambda index: set_write(staged=staged, built=index, ids=ids, kinds=kinds, checkpoint=checkpoint),
    )


def vectors_load(ctx, *, model_id: str, dimension: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Stream ready embeddings in primary-key chunks into preallocated arrays (vectors, ids, kinds)."""
    rows = Entry.objects.filter(embedding_state=EmbeddingState.READY, embedding_model=model_id).order_by("pk")
    expected = rows.count()
    vectors = np.empty((expected, dimension), dtype=np.float32)
    ids = np.empty(expected, dtype=np.int64)
    kinds = np.empty(expected, dtype=np.uint8)
    report = Progress(ctx, expected)
    chunk, width = settings.CHLOPS_INDEX_LOAD_CHUNK, dimension * 4
    filled = skipped = last = 0
    report("loading", 0, expected)
    while True:
        ctx.checkpoint()
        batch = list(rows.filter(pk__gt=last).values_list("pk", "kind", "embedding")[:chunk])
        if not batch:
            break
        last = batch[-1][0]
        good = [row for row in batch if row[2] is not None and len(row[2]) == width]
        block = np.frombuffer(b"".join(bytes(row[2]) for row in good), dtype=np.float32).reshape(-1, dimension)
        keep = np.einsum("ij,ij->i", block, block) > 0.25  # an all-zero row means "nothing to index"
        skipped += len(batch) - int(keep.sum())
        size = int(keep.sum())
        if filled + size > len(ids):  # rows became ready while we read: grow instead of dropping them
            grow = max(filled + size, 2 * len(ids))
            vectors, ids, kinds = _grown(vectors, grow), _grown(ids, grow), _grown(kinds, grow)
        vectors[filled : filled + size] = block[keep]
        ids[filled : filled + size] = np.fromiter((row[0] for row in good), dtype=np.int64, count=len(good))[keep]
        kinds[filled : filled + size] = np.fromiter(
            (KIND_CODES.get(row[1], 255) for row in good), dtype=np.uint8, count=len(good)
        )[keep]
        filled += size
        report("loading", min(filled, expected), expected)
    return vectors[:filled], ids[:filled], kinds[:filled], skipped


def _grown(array: np.ndarray, size: int) -> np.ndarray:
    bigger = np.empty((size, *array.shape[1:]), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger
