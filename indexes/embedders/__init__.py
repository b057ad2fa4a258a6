"""Embedders: pick one by setting (CHLOPS_EMBEDDER), one instance per process."""

from __future__ import annotations

import threading

import numpy as np
from django.conf import settings

from indexes.embedders.base import Embedder

__all__ = ["Embedder", "EMBEDDERS", "embedder_build", "embedder_get", "vector_from_bytes"]

EMBEDDERS = ("hashing", "minilm")

_lock = threading.Lock()
_cached: tuple[tuple, Embedder] | None = None


class UnknownEmbedder(ValueError):
    pass


def embedder_build(*, name: str, dimension: int) -> Embedder:
    """Build a fresh embedder by name."""
    if name == "hashing":
        from indexes.embedders.hashing import HashingEmbedder

        return HashingEmbedder(dimension=dimension)
    if name == "minilm":
        from indexes.embedders.minilm import MiniLMEmbedder

        return MiniLMEmbedder()
    raise UnknownEmbedder(f"Unknown embedder {name!r}; set CHLOPS_EMBEDDER to one of: {', '.join(EMBEDDERS)}.")


def embedder_get() -> Embedder:
    """Return this process's embedder for the current settings, rebuilt when they change."""
    global _cached
    key = (settings.CHLOPS_EMBEDDER, int(settings.CHLOPS_EMBEDDING_DIMENSION))
    cached = _cached
    if cached is not None and cached[0] == key:
        return cached[1]
    with _lock:
        if _cached is None or _cached[0] != key:
            _cached = (key, embedder_build(name=key[0], dimension=key[1]))
        return _cached[1]


def vector_from_bytes(b: bytes, dimension: int) -> np.ndarray:
    """Read a stored embedding (float32 bytes) back as a vector of `dimension`."""
    vector = np.frombuffer(bytes(b), dtype=np.float32)
    if vector.shape[0] != dimension:
        raise ValueError(f"A stored embedding has {vector.shape[0]} values where {dimension} were expected.")
    return vector
