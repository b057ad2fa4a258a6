"""Score a query against the served sparse vectors (BM25), in any process, reloading when a new version is served."""

from __future__ import annotations

import threading

import numpy as np

from indexes.sparse.errors import SparseNotBuilt
from indexes.sparse.store import KINDS, SparseIndex, current_marker, current_version, version_load
from indexes.sparse.tokens import tokenize

__all__ = ["SparseNotBuilt", "sparse_search", "sparse_index_get"]

_lock = threading.Lock()
_cached: tuple[tuple[int, int, int], SparseIndex] | None = None


def sparse_index_get() -> SparseIndex:
    """The served version, loaded once per process and reloaded when CURRENT changes; raise SparseNotBuilt."""
    global _cached
    marker = current_marker()
    if marker is None:
        raise SparseNotBuilt()
    cached = _cached
    if cached is not None and cached[0] == marker:
        return cached[1]
    with _lock:
        cached = _cached
        if cached is not None and cached[0] == marker:
            return cached[1]
        version = current_version()
        if version is None:
            raise SparseNotBuilt()
        if cached is not None and cached[1].version == version:
            index = cached[1]  # CURRENT was rewritten with the same version: nothing to read
        else:
            index = version_load(version)
        _cached = (marker, index)
        return index


def sparse_search(*, query: str, k: int, kind: str | None) -> list[tuple[int, float]]:
    """Return up to k (entry primary key, BM25 score), best first; raise SparseNotBuilt before the first run."""
    index = sparse_index_get()
    kind = kind or None
    rows = sorted({index.terms[t] for t in tokenize(query) if t in index.terms})
    if not rows or k <= 0:
        return []
    if kind is not None and kind not in KINDS:
        return []
    picked = index.weights[rows]
    scores = np.bincount(picked.indices, weights=picked.data, minlength=index.weights.shape[1])
    if kind is not None:
        scores[index.kinds != KINDS.index(kind)] = 0.0
    hits = np.flatnonzero(scores > 0)
    if len(hits) > k:
        hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
    # Ties break by primary key so that the same query always answers in the same order.
    order = np.lexsort((index.ids[hits], -scores[hits]))
    hits = hits[order]
    return [(int(pk), float(score)) for pk, score in zip(index.ids[hits], scores[hits], strict=True)]
