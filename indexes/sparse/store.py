"""The files of the sparse index: one directory per version, and a CURRENT marker swapped atomically.

Layout under DATA_DIR/sparse/:

    CURRENT                 the served version's name (written to temp, fsynced, renamed)
    versions/<version>/     weights.npz (a terms × entries CSR matrix of BM25 weights, the entry
                            primary keys and kind codes), terms.json (the vocabulary), manifest.json

A version is written whole in a temporary directory, fsynced and renamed into versions/ before
CURRENT names it, so a reader sees either the old set or the new one. The served version and the
one before it are kept; older ones are removed. Files rather than a table: a search reads the whole
matrix into memory once per version and then scores in vectorised numpy, which no per-row table
query can match, and the swap is the same write-temp-fsync-rename as the dense index.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.utils import timezone
from scipy import sparse

from chlops.fileio import fsync_path
from indexes.models import Kind

KINDS = tuple(Kind.values)  # kind codes stored per entry are positions in this tuple
KEEP_VERSIONS = 2


@dataclass
class SparseIndex:
    """One loaded version: what search needs in memory."""

    version: str
    weights: sparse.csr_matrix  # terms × entries
    ids: np.ndarray  # entry primary keys, one per column
    kinds: np.ndarray  # kind codes, one per column
    terms: dict[str, int]
    manifest: dict[str, Any]


def sparse_dir() -> Path:
    return Path(settings.DATA_DIR) / "sparse"


def current_path() -> Path:
    return sparse_dir() / "CURRENT"


def current_version() -> str | None:
    """The served version's name, or None before the first generation."""
    try:
        return current_path().read_text().strip() or None
    except FileNotFoundError:
        return None


def current_marker() -> tuple[int, int, int] | None:
    """A cheap fingerprint of CURRENT (inode, mtime, size): it changes whenever a new version is served."""
    try:
        stat = os.stat(current_path())
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def manifest_read(version: str | None = None) -> dict[str, Any] | None:
    """The manifest of a version (the served one by default), or None if there is none."""
    version = version or current_version()
    if version is None:
        return None
    try:
        return json.loads((sparse_dir() / "versions" / version / "manifest.json").read_text())
    except FileNotFoundError:
        return None


def version_load(version: str) -> SparseIndex:
    """Read a version's files into memory."""
    folder = sparse_dir() / "versions" / version
    with np.load(folder / "weights.npz") as arrays:
        shape = tuple(int(n) for n in arrays["shape"])
        weights = sparse.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)
        ids, kinds = arrays["ids"], arrays["kinds"]
    terms = json.loads((folder / "terms.json").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    return SparseIndex(
        version=version,
        weights=weights,
        ids=ids,
        kinds=kinds,
        terms={term: i for i, term in enumerate(terms)},
        manifest=manifest,
    )


def version_write(
    *, weights: sparse.csr_matrix, ids: np.ndarray, kinds: np.ndarray, terms: list[str], manifest: dict[str, Any]
) -> str:
    """Write a new version whole and make it the served one; return its name."""
    versions = sparse_dir() / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    version = f"{timezone.now():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=versions))
    try:
        with open(staging / "weights.npz", "wb") as out:
            np.savez(
                out,
                data=weights.data,
                indices=weights.indices,
                indptr=weights.indptr,
                shape=np.array(weights.shape, dtype=np.int64),
                ids=ids,
                kinds=kinds,
            )
            _sync(out)
        _write_text(staging / "terms.json", json.dumps(terms, ensure_ascii=False))
        _write_text(staging / "manifest.json", json.dumps({**manifest, "version": version}, indent=2))
        os.chmod(staging, 0o755)
        os.rename(staging, versions / version)
        fsync_path(versions)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _write_text(current_path(), version, atomic=True)
    _prune(keep={version})
    return version


def staging_clean() -> None:
    """Remove half-written versions a stopped job left behind (only the sparse job writes here)."""
    versions = sparse_dir() / "versions"
    if versions.is_dir():
        for leftover in versions.glob(".tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)


def _prune(*, keep: set[str]) -> None:
    versions = sparse_dir() / "versions"
    named = sorted((p for p in versions.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)
    for old in named[:-KEEP_VERSIONS]:
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def _write_text(path: Path, text: str, *, atomic: bool = False) -> None:
    target = path
    if atomic:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
        os.close(fd)
        path = Path(name)
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
            _sync(out)
        if atomic:
            os.chmod(path, 0o644)
            os.replace(path, target)
            fsync_path(target.parent)
    except BaseException:
        if atomic:
            path.unlink(missing_ok=True)
        raise


def _sync(handle: Any) -> None:
    handle.flush()
    os.fsync(handle.fileno())
