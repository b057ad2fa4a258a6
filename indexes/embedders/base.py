"""The embedder interface and the runtime statistics every backend reports."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime

import numpy as np

from operations import observers

# Embedders whose model fixes the dimension, whatever CHLOPS_EMBEDDING_DIMENSION says.
FIXED_DIMENSIONS = {"minilm": 384}


def model_id_for(name: str, dimension: int) -> str:
    """The id stored beside each vector: which embedder made it, at which dimension."""
    return f"{name}-{dimension}"


class Embedder(ABC):
    """Turn texts into L2-normalised float32 rows of a fixed dimension.

    A text with nothing to embed (empty or only whitespace) gives an all-zero row,
    never a random or tiny-norm one: callers treat a zero row as "nothing to index".
    """

    name: str = ""
    dimension: int = 0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls = 0
        self._total_ms = 0.0
        self._last_ms: float | None = None
        self._errors = 0
        self._last_at: datetime | None = None

    @property
    def model_id(self) -> str:
        return model_id_for(self.name, self.dimension)

    # Entries per batch that keep one batch well under a second on a CPU; settings may lower it.
    batch_size: int = 256

    @property
    def loaded(self) -> bool:
        return True

    def load(self) -> None:  # noqa: B027 — most embedders have nothing to load
        """Load the model if it needs loading; counted as an error, not as inference time, when it fails."""

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts into an array of shape (len(texts), dimension), rows L2-normalised."""
        try:
            self.load()
        except Exception:
            with self._lock:
                self._errors += 1
            observers.observe("embed", key=self.name, outcome="error", seconds=0.0, items=len(texts))
            raise
        started = time.perf_counter()
        try:
            vectors = self._embed(list(texts)) if texts else np.zeros((0, self.dimension), dtype=np.float32)
        except Exception:
            with self._lock:
                self._errors += 1
            observers.observe("embed", key=self.name, outcome="error", seconds=time.perf_counter() - started)
            raise
        elapsed_ms = (time.perf_counter() - started) * 1000
        observers.observe("embed", key=self.name, outcome="ok", seconds=elapsed_ms / 1000, items=len(texts))
        with self._lock:
            self._calls += 1
            self._total_ms += elapsed_ms
            self._last_ms = elapsed_ms
            self._last_at = datetime.now(UTC)
        return vectors

    @abstractmethod
    def _embed(self, texts: list[str]) -> np.ndarray: ...

    def memory_bytes(self) -> int:
        return 0

    def stats(self) -> dict:
        """Say whether the model is loaded, its inference times, memory, errors and last use."""
        with self._lock:
            return {
                "name": self.name,
                "dimension": self.dimension,
                "model_id": self.model_id,
                "loaded": self.loaded,
                "inference_ms_last": round(self._last_ms, 3) if self._last_ms is not None else None,
                "inference_ms_avg": round(self._total_ms / self._calls, 3) if self._calls else None,
                "calls": self._calls,
                "memory_bytes": self.memory_bytes(),
                "errors": self._errors,
                "last_inference_at": self._last_at.isoformat() if self._last_at else None,
            }


def rows_normalise(matrix: np.ndarray) -> np.ndarray:
    """Scale each row to unit L2 norm in place; zero rows stay zero."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix
