"""Read the state of the embedding pipeline, for the embedding card and monitoring."""

from __future__ import annotations

import logging

from django.db.models import Count, F

from indexes.embedders import EmbedderSpec, claims, embedder_loaded, embedder_spec
from indexes.models import EmbeddingState, Entry, Kind

logger = logging.getLogger(__name__)

FAILED_SHOWN = 5


def embedder_stats() -> list[dict]:
    """Stats of the current embedder in every process that used it lately; this process's when none did.

    Nothing is loaded to answer: the workers publish their stats, and this process reports its own
    embedder only if a search built it (a web process loads no model to draw a card).
    """
    spec = embedder_spec()
    try:
        published = [s for s in claims.stats_all() if s.get("model_id") == spec.model_id]
    except Exception:  # noqa: BLE001 — Redis down: the card still shows what this process knows
        logger.debug("embedder stats unavailable from Redis", exc_info=True)
        published = []
    own = embedder_loaded()
    return published or [{**(own.stats() if own is not None else _not_loaded(spec)), "process": "this process"}]


def _not_loaded(spec: EmbedderSpec) -> dict:
    return {
        "name": spec.name, "dimension": spec.dimension, "model_id": spec.model_id, "loaded": False,
        "inference_ms_last": None, "inference_ms_avg": None, "calls": 0, "memory_bytes": 0, "errors": 0,
        "last_inference_at": None,
    }  # fmt: skip


def embedding_status() -> dict:
    """Pending, failed and ready counts per kind, stale vectors, the latest failures and the embedder."""
    counts = {kind: {state: 0 for state in EmbeddingState.values} for kind in Kind.values}
    for row in Entry.objects.values("kind", "embedding_state").annotate(n=Count("pk")).order_by():
        counts.setdefault(row["kind"], {})[row["embedding_state"]] = row["n"]
    embedder = embedder_spec()
    stale = list(
        Entry.objects.filter(embedding_state=EmbeddingState.READY)
        .exclude(embedding_model=embedder.model_id)
        .values("embedding_model")
        .annotate(n=Count("pk"))
        .order_by("-n")
    )
    failed = list(
        Entry.objects.filter(embedding_state=EmbeddingState.FAILED)
        # "id + 0": ordered by the bare key, SQLite's planner walked the whole table backwards looking
        # for failed rows (320 ms at 300,000 entries); this way it finds them by the index and sorts them.
        .order_by((F("pk") + 0).desc())
        .values("pk", "kind", "external_id", "title", "embedding_error")[:FAILED_SHOWN]
    )
    rows = [{"kind": kind, **by_state} for kind, by_state in counts.items()]
    return {
        "rows": rows,
        "pending": sum(r[EmbeddingState.PENDING] for r in rows),
        "failed_count": sum(r[EmbeddingState.FAILED] for r in rows),
        "ready": sum(r[EmbeddingState.READY] for r in rows),
        "failed": failed,
        "stale": [{"model": s["embedding_model"] or "an unknown embedder", "count": s["n"]} for s in stale],
        "stale_count": sum(s["n"] for s in stale),
        "embedder": {"name": embedder.name, "dimension": embedder.dimension, "model_id": embedder.model_id},
        "stats": embedder_stats(),
    }
