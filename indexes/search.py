"""Search the corpus: dense (the served FAISS index), sparse (BM25) or hybrid (reciprocal rank fusion).

Hybrid mode fuses the two rankings with reciprocal rank fusion, score = Σ 1 / (60 + rank), over the
top max(50, 2k) of each: it needs no calibration between cosine and BM25 scales, which a weighted
mix of normalised scores would, and an entry found by both methods rises above one found by either.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chlops.exceptions import ChlopsError, ServiceUnavailable
from indexes.embedders import embedder_get
from indexes.models import Entry, Kind
from indexes.store import IndexMissing
from indexes.store.reload import latency_record
from operations import observers

if TYPE_CHECKING:
    from indexes.store import IndexBundle

logger = logging.getLogger(__name__)

MODES = ("dense", "sparse", "hybrid")
K_MAX = 100
QUERY_MAX_CHARS = 1000
RRF_K = 60
NO_SPARSE = "Sparse vectors have not been generated yet; run the sparse job."


class SearchInvalid(ChlopsError):
    status = 400


def search_params_parse(query: Mapping[str, Any]) -> dict[str, Any]:
    """Read q, k, mode and kind from a query string, with the defaults an operator expects."""
    raw_k = str(query.get("k") or "10").strip()
    try:
        k = int(raw_k)
    except ValueError:
        raise SearchInvalid(f"k must be a whole number from 1 to {K_MAX}; got {raw_k!r}.") from None
    return {
        "query": str(query.get("q") or ""),
        "k": k,
        "mode": str(query.get("mode") or "dense").strip(),
        "kind": str(query.get("kind") or "").strip() or None,
    }


def search(*, query: str, k: int = 10, mode: str = "dense", kind: str | None = None) -> dict[str, Any]:
    """Answer a query with the k best entries, the time it took and the index version that answered."""
    started = time.perf_counter()
    try:
        answer = _answer(started, query=query, k=k, mode=mode, kind=kind)
    except Exception as exc:
        outcome = "invalid" if isinstance(exc, SearchInvalid) else "error"
        observers.observe("search", key=str(mode), outcome=outcome, seconds=time.perf_counter() - started)
        raise
    observers.observe("search", key=mode, outcome="ok", seconds=answer["took_ms"] / 1000)
    return answer


def _answer(started: float, *, query: str, k: int, mode: str, kind: str | None) -> dict[str, Any]:
    query = _validated(query=query, k=k, mode=mode, kind=kind)
    bundle = _bundle_or_none(required=mode != "sparse")
    if mode == "dense":
        hits = _dense(bundle, query=query, depth=k, kind=kind)
    elif mode == "sparse":
        hits = _sparse(query=query, depth=k, kind=kind)
    else:
        depth = max(50, 2 * k)
        hits = _fused(_dense(bundle, query=query, depth=depth, kind=kind), _sparse(query=query, depth=depth, kind=kind))
    results = _hydrated(hits, k=k)
    took_ms = (time.perf_counter() - started) * 1000
    try:
        latency_record(took_ms=took_ms, mode=mode)
    except Exception:  # noqa: BLE001 — recording latency must never fail a search
        logger.debug("search latency not recorded", exc_info=True)
    return {"results": results, "took_ms": round(took_ms, 3), "index_version": bundle.version if bundle else None}


def _validated(*, query: str, k: int, mode: str, kind: str | None) -> str:
    query = (query or "").strip()
    if not query:
        raise SearchInvalid("Type something to search for: the query is empty.")
    if len(query) > QUERY_MAX_CHARS:
        raise SearchInvalid(f"The query is {len(query)} characters long; shorten it to {QUERY_MAX_CHARS} or fewer.")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= K_MAX:
        raise SearchInvalid(f"k must be a whole number from 1 to {K_MAX}; got {k!r}.")
    if mode not in MODES:
        raise SearchInvalid(f"Unknown search mode {mode!r}; use one of: {', '.join(MODES)}.")
    if kind is not None and kind not in Kind.values:
        raise SearchInvalid(f"Unknown kind {kind!r}; use one of: {', '.join(Kind.values)}, or leave it empty for all.")
    return query


def _bundle_or_none(*, required: bool) -> IndexBundle | None:
    from indexes.store import index_current  # faiss loads on the first search, not with the pages

    try:
        return index_current()
    except IndexMissing:
        if required:
            raise
        return None


def _dense(bundle: IndexBundle, *, query: str, depth: int, kind: str | None) -> list[tuple[int, float]]:
    embedder = embedder_get()
    built_with = bundle.manifest.get("embedder")
    if built_with != embedder.model_id:
        raise ServiceUnavailable(
            f"The served index was built with the embedder {built_with}, but queries are embedded with "
            f"{embedder.model_id}; run embed and then reindex."
        )
    vector = embedder.embed([query])
    if not vector.any():
        raise SearchInvalid("The query has no words or characters the embedder can use; type a few words.")
    # A little more than k, so that entries deleted since the last reindex do not leave the page short.
    return bundle.search(vector, depth + 10, kind=kind)[0]


def _sparse(*, query: str, depth: int, kind: str | None) -> list[tuple[int, float]]:
    try:
        from indexes.sparse.search import sparse_search
    except ModuleNotFoundError:
        raise ServiceUnavailable(NO_SPARSE) from None
    return sparse_search(query=query, k=depth + 10, kind=kind)


def _fused(dense: list[tuple[int, float]], sparse: list[tuple[int, float]]) -> list[tuple[int, float]]:
    scores: dict[int, float] = {}
    for ranking in (dense, sparse):
        for rank, (entry_id, _) in enumerate(ranking, start=1):
            scores[entry_id] = scores.get(entry_id, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def _hydrated(hits: list[tuple[int, float]], *, k: int) -> list[dict[str, Any]]:
    wanted = [entry_id for entry_id, _ in hits[: k + 10]]
    rows = Entry.objects.filter(pk__in=wanted).values("id", "kind", "external_id", "title")
    found = {row["id"]: row for row in rows}
    results = [{"entry": found[entry_id], "score": round(score, 6)} for entry_id, score in hits if entry_id in found]
    return results[:k]
