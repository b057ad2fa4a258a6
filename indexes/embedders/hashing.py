"""The default embedder: signed feature hashing of words (scikit-learn) and character n-grams (numpy)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize
from sklearn.utils import murmurhash3_32

from indexes.embedders.base import Embedder, rows_normalise
from indexes.embedders.ngrams import char_ngrams_fold

# N-grams are first counted in a wide hashed space, where collisions are rare, so that sublinear tf
# applies to each n-gram and not to a sum of colliding ones; only then are they folded into
# `dimension` buckets with a random sign (the hashing trick), which keeps inner products unbiased.
WIDE_FEATURES = 2**20
BUCKET_SEED = 0x5EED
SIGN_SEED = 0x516E


class HashingEmbedder(Embedder):
    """Lower-cased word unigrams/bigrams and 3-5 character n-grams inside word boundaries, sublinear tf,
    signed-hashed into `dimension` buckets and L2-normalised. Deterministic; needs no download."""

    name = "hashing"

    def __init__(self, *, dimension: int = 384, word_weight: float = 1.0, char_weight: float = 1.0) -> None:
        super().__init__()
        if dimension < 8:
            raise ValueError("The hashing embedder needs a dimension of at least 8.")
        self.dimension = dimension
        self.word_weight = word_weight
        self.char_weight = char_weight
        common = {"n_features": WIDE_FEATURES, "alternate_sign": False, "norm": None, "dtype": np.float32}
        self._words = HashingVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b", **common)
        self._projection = projection_build(wide=WIDE_FEATURES, dimension=dimension)

    def _embed(self, texts: list[str]) -> np.ndarray:
        words = (self._part(self._words, texts, self.word_weight) @ self._projection).toarray()
        chars = char_ngrams_fold(texts, dimension=self.dimension)
        if self.char_weight != 1.0:
            chars *= self.char_weight
        return rows_normalise(words + chars)

    @staticmethod
    def _part(vectorizer: HashingVectorizer, texts: list[str], weight: float) -> sp.csr_matrix:
        counts = vectorizer.transform(texts)
        np.log(counts.data, out=counts.data)
        counts.data += 1.0  # sublinear tf: 1 + log(tf)
        counts = normalize(counts, copy=False)
        if weight != 1.0:
            counts.data *= weight
        return counts

    def memory_bytes(self) -> int:
        p = self._projection
        return int(p.data.nbytes + p.indices.nbytes + p.indptr.nbytes)


def projection_build(*, wide: int, dimension: int) -> sp.csr_matrix:
    """Build the fixed sparse matrix that folds `wide` features into `dimension` signed buckets."""
    ids = np.arange(wide, dtype=np.int32)
    buckets = murmurhash3_32(ids, seed=BUCKET_SEED, positive=True) % dimension
    signs = np.where(murmurhash3_32(ids, seed=SIGN_SEED, positive=True) & 1, 1.0, -1.0).astype(np.float32)
    return sp.csr_matrix((signs, (ids, buckets.astype(np.int32))), shape=(wide, dimension))
