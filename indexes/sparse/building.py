"""The `sparse` job: BM25 weights of every entry, read in batches and written as a new served version."""

from __future__ import annotations

import time
from array import array
from collections import Counter
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone
from scipy import sparse

from indexes.models import Entry
from indexes.sparse.selectors import CARD
from indexes.sparse.store import KINDS, staging_clean, version_write
from indexes.sparse.tokens import tokenize
from operations import broadcasts

K1 = 1.2
B = 0.75


class _Postings:
    """Term counts of the entries read so far, in compact flat arrays (one triple per distinct term in an entry)."""

    def __init__(self) -> None:
        self.terms: dict[str, int] = {}
        self.term_ids = array("i")
        self.columns = array("i")
        self.counts = array("f")
        self.lengths = array("i")
        self.ids = array("q")
        self.kinds = array("B")

    def add(self, *, pk: int, kind: str, text: str) -> None:
        tokens = tokenize(text)
        counted = Counter(tokens)
        terms = self.terms
        self.term_ids.extend(terms.setdefault(t, len(terms)) for t in counted)
        self.counts.extend(counted.values())
        self.columns.extend([len(self.ids)] * len(counted))
        self.lengths.append(len(tokens))
        self.ids.append(pk)
        self.kinds.append(KINDS.index(kind) if kind in KINDS else 255)

    def weights(self) -> sparse.csr_matrix:
        """BM25 weight of each (term, entry): idf · tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen))."""
        n = len(self.ids)
        if not self.term_ids:
            return sparse.csr_matrix((len(self.terms), n), dtype=np.float32)
        rows = np.frombuffer(self.term_ids, dtype=np.int32)
        cols = np.frombuffer(self.columns, dtype=np.int32)
        tf = np.frombuffer(self.counts, dtype=np.float32)
        lengths = np.asarray(self.lengths, dtype=np.float32)
        average = float(lengths.mean()) or 1.0
        df = np.bincount(rows, minlength=len(self.terms)).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        norm = K1 * (1 - B + B * lengths / average)
        data = idf[rows] * tf * (K1 + 1) / (tf + norm[cols])
        matrix = sparse.csr_matrix((data.astype(np.float32), (rows, cols)), shape=(len(self.terms), n))
        matrix.sort_indices()
        return matrix


def sparse_generate(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Build BM25 vectors of the whole corpus and serve them; return vocabulary size, entries and version."""
    started = time.monotonic()
    staging_clean()
    postings = _read(ctx)
    ctx.progress(len(postings.ids), len(postings.ids), phase="weighting")
    ctx.checkpoint()
    weights = postings.weights()
    ctx.checkpoint()
    ctx.progress(len(postings.ids), len(postings.ids), phase="writing")
    terms = list(postings.terms)
    manifest = {
        "built_at": timezone.now().isoformat(),
        "entries": len(postings.ids),
        "vocabulary": len(terms),
        "nonzeros": int(weights.nnz),
        "scoring": {"model": "bm25", "k1": K1, "b": B},
        "tokenizer": "lower-cased runs of letters and digits",
        "job_id": getattr(ctx.job, "pk", None),
        "seconds": round(time.monotonic() - started, 3),
    }
    version = version_write(
        weights=weights,
        ids=np.frombuffer(postings.ids, dtype=np.int64).copy(),
        kinds=np.frombuffer(postings.kinds, dtype=np.uint8).copy(),
        terms=terms,
        manifest=manifest,
    )
    broadcasts.card_changed(CARD)
    ctx.log(f"Sparse vectors of {len(postings.ids)} entries served as version {version}.", version=version)
    return {"version": version, "entries": len(postings.ids), "vocabulary": len(terms), "nonzeros": int(weights.nnz)}


def _read(ctx: Any) -> _Postings:
    postings = _Postings()
    total = Entry.objects.count()
    batch = max(1, settings.CHLOPS_SPARSE_BATCH_SIZE)
    ctx.progress(0, total, phase="reading")
    last = 0
    while True:
        rows = list(Entry.objects.filter(pk__gt=last).order_by("pk").values_list("pk", "kind", "title", "body")[:batch])
        if not rows:
            break
        for pk, kind, title, body in rows:
            postings.add(pk=pk, kind=kind, text=f"{title}\n{body}")
            ctx.checkpoint()
        last = rows[-1][0]
        # Entries added while reading make the count grow; never report more done than total.
        done = len(postings.ids)
        ctx.progress(done, max(total, done))
    return postings
