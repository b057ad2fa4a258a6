"""Character n-grams inside word boundaries, counted and signed-hashed with numpy over a whole batch.

scikit-learn's `char_wb` analyzer builds every n-gram as a Python string (about a thousand per
entry), which made it four fifths of the embedder's time; here each n-gram is a polynomial hash
of code points computed for all positions of the batch at once. Deterministic across processes
and machines: plain integer arithmetic, no salted `hash()`.
"""

from __future__ import annotations

import numpy as np

PRIME = np.uint64(0x100000001B3)
SEED = np.uint64(0x9E3779B97F4A7C15)
DOC_SHIFT = np.uint64(40)  # key = document << 40 | top 40 bits of the n-gram hash
LOW_40 = np.uint64((1 << 40) - 1)


def _mix(h: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: spread every input bit over the whole 64-bit word."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def char_ngrams_fold(texts: list[str], *, dimension: int, sizes: tuple[int, ...] = (3, 4, 5)) -> np.ndarray:
    """Return (len(texts), dimension): per text, sublinear-tf n-gram weights, L2-normalised, signed-folded.

    Words are lower-cased and padded with one space each side, like scikit-learn's `char_wb`; an
    n-gram never spans two words. A text without any n-gram gives a zero row.
    """
    count = len(texts)
    out = np.zeros((count, dimension), dtype=np.float64)
    if not count:
        return out
    pieces = [" " + " ".join(text.lower().split()) + " " for text in texts]
    lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=count)
    # NUL separates documents: no n-gram may contain it.
    codes = np.frombuffer("\x00".join(pieces).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    size = codes.size
    doc_of = np.repeat(np.arange(count, dtype=np.uint64), lengths + 1)[:size]
    spaces = np.concatenate(([0], np.cumsum(codes == 32)))
    nuls = np.concatenate(([0], np.cumsum(codes == 0)))
    keys = []
    with np.errstate(over="ignore"):
        for n in sizes:
            m = size - n + 1
            if m <= 0:
                continue
            at = np.arange(m)
            ok = (spaces[at + n - 1] - spaces[at + 1] == 0) & (nuls[at + n] - nuls[at] == 0)
            h = np.full(m, np.uint64(n), dtype=np.uint64)
            for k in range(n):
                h = h * PRIME + codes[k : k + m]
            h = _mix(h)[ok]
            keys.append((doc_of[:m][ok] << DOC_SHIFT) | (h >> np.uint64(24)))
        if not keys:
            return out
        unique, counts = np.unique(np.concatenate(keys), return_counts=True)
        docs = (unique >> DOC_SHIFT).astype(np.intp)
        weights = 1.0 + np.log(counts)  # sublinear tf
        norms = np.sqrt(np.bincount(docs, weights=weights * weights, minlength=count))
        weights /= norms[docs]
        folded = _mix((unique & LOW_40) ^ SEED)
    buckets = (folded % np.uint64(dimension)).astype(np.intp)
    signs = np.where(folded >> np.uint64(63), 1.0, -1.0)
    flat = np.bincount(docs * dimension + buckets, weights=weights * signs, minlength=count * dimension)
    return flat.reshape(count, dimension)
