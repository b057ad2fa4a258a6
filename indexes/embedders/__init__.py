"""Embedders: pick one by setting (CHLOPS_EMBEDDER), one instance per process."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from indexes.embedders.base import FIXED_DIMENSIONS, Embedder, model_id_for

__all__ = [
    "Embedder",
    "EmbedderSpec",
    "EMBEDDERS",
    "embedder_build",
    "embedder_get",
    "embedder_loaded",
    "embedder_spec",
    "vector_from_bytes",
]

EMBEDDERS = ("hashing", "minilm")

_lock = threading.Lock()
_cached: tuple[tuple, Embedder] | None = None


class UnknownEmbedder(ValueError):
    pass


@dataclass(frozen=True)
class EmbedderSpec:
    """What the settings choose, known without loading a model."""

    name: str
    dimension: int

    @property
    def model_id(self) -> str:
        return model_id_for(self.name, self.dimension)


def embedder_spec() -> EmbedderSpec:
    """The configured embedder's name, dimension and model id, without building it (for cards and pages)."""
    name = settings.CHLOPS_EMBEDDER
    if name not in EMBEDDERS:
        raise UnknownEmbedder(f"Unknown embedder {name!r}; set CHLOPS_EMBEDDER to one of: {', '.join(EMBEDDERS)}.")
    return EmbedderSpec(name=name, dimension=FIXED_DIMENSIONS.get(name, int(settings.CHLOPS_EMBEDDING_DIMENSION)))


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


def embedder_loaded() -> Embedder | None:
    """This process's embedder for the current settings if it was built already; never builds one."""
    cached = _cached
    key = (settings.CHLOPS_EMBEDDER, int(settings.CHLOPS_EMBEDDING_DIMENSION))
    return cached[1] if cached is not None and cached[0] == key else None


def vector_from_bytes(b: bytes, dimension: int) -> np.ndarray:
    """Read a stored embedding (float32 bytes) back as a vector of `dimension`."""
    vector = np.frombuffer(bytes(b), dtype=np.float32)
    if vector.shape[0] != dimension:
        raise ValueError(f"A stored embedding has {vector.shape[0]} values where {dimension} were expected.")
    return vector
