"""Sparse lexical vectors of the corpus: BM25 weights built by the `sparse` job, scored by `sparse_search`."""
