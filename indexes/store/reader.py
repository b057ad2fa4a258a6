"""The served index, loaded once per process and swapped for the new one when the version moves."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from django.conf import settings

from indexes.store import files, reload
from indexes.store.build import search_parameters, supports_selector
from indexes.store.files import NO_INDEX, IndexMissing

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexBundle:
    """One published set in memory; never changed, so a search holding it sees one version throughout."""

    index: faiss.Index
    ids: np.ndarray
    kinds: np.ndarray
    manifest: dict[str, Any]
    _selectors: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def version(self) -> int:
        return int(self.manifest["version"])

    def search(self, vectors: np.ndarray, k: int, *, kind: str | None = None) -> list[list[tuple[int, float]]]:
        """Nearest entries of each query row as (entry id, score), best first; optionally one kind only."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index_type, tuned = self.manifest["index_type"], self.manifest.get("search_params") or {}
        if not kind:
            return self._search(vectors, k, search_parameters(index_type, tuned))
        mask = self._kind_mask(kind)
        if not mask.any():
            return [[] for _ in range(len(vectors))]
        if supports_selector(index_type):
            return self._search(vectors, k, search_parameters(index_type, tuned, self._selector(kind, mask)))
        return self._search_filtered(vectors, k, mask, search_parameters(index_type, tuned))

    def _search(self, vectors: np.ndarray, k: int, params) -> list[list[tuple[int, float]]]:
        scores, positions = _one_thread_search(self.index, vectors, k, params)
        return [
            [(int(self.ids[p]), float(s)) for s, p in zip(row_scores, row_positions, strict=True) if p >= 0]
            for row_scores, row_positions in zip(scores, positions, strict=True)
        ]

    def _search_filtered(self, vectors: np.ndarray, k: int, mask: np.ndarray, params) -> list[list[tuple[int, float]]]:
        # For indexes without id selectors: fetch more until k of the kind are found or all were seen.
        fetch, total = min(self.index.ntotal, 4 * k), self.index.ntotal
        while True:
            scores, positions = _one_thread_search(self.index, vectors, fetch, params)
            answers = [
                [(int(self.ids[p]), float(s)) for s, p in zip(rs, rp, strict=True) if p >= 0 and mask[p]][:k]
                for rs, rp in zip(scores, positions, strict=True)
            ]
            if fetch >= total or all(len(a) >= k for a in answers):
                return answers
            fetch = min(total, fetch * 8)

    def _kind_mask(self, kind: str) -> np.ndarray:
        key = f"mask:{kind}"
        if key not in self._selectors:
            names = self.manifest.get("kinds") or []
            code = names.index(kind) if kind in names else -1
            self._selectors[key] = self.kinds == code
        return self._selectors[key]

    def _selector(self, kind: str, mask: np.ndarray):
        if kind not in self._selectors:
            bitmap = np.packbits(mask, bitorder="little")
            # The selector reads the bitmap through a raw pointer: keep the array alive beside it.
            self._selectors[kind] = (faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap)), bitmap)
        return self._selectors[kind][0]


_omp_lock = threading.Lock()
_omp_users = 0
_omp_before = 1


def _one_thread_search(index: faiss.Index, vectors: np.ndarray, k: int, params):
    """Search one query with OpenMP at one thread: it gains nothing from threads and pays their wake-up.

    The thread count is process-wide in libgomp, so concurrent searches share one lowering and the
    last one out restores it.
    """
    global _omp_users, _omp_before
    if len(vectors) > 1:
        return index.search(vectors, k, params=params)
    with _omp_lock:
        if _omp_users == 0:
            _omp_before = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
        _omp_users += 1
    try:
        return index.search(vectors, k, params=params)
    finally:
        with _omp_lock:
            _omp_users -= 1
            if _omp_users == 0:
                faiss.omp_set_num_threads(_omp_before)


_lock = threading.Lock()
_loading_lock = threading.Lock()
_loading: int | None = None  # the version a background thread is loading
_cached: IndexBundle | None = None
_checked: int | None = None  # the published version this process last reloaded for


def bundle_load(directory: Path) -> IndexBundle:
    manifest = files.manifest_read(directory)
    index = faiss.read_index(str(directory / files.INDEX_FILE))
    ids = np.load(directory / files.IDS_FILE)
    kinds = np.load(directory / files.KINDS_FILE)
    return IndexBundle(index=index, ids=ids, kinds=kinds, manifest=manifest)


def index_current() -> IndexBundle:
    """The served index of this process, reloaded when another process published a new version.

    A small new set is loaded before answering. A large one is loaded by a background thread while
    searches keep answering from the set they had, so a swap never stalls them behind a long read.
    """
    wanted = reload.published_version()
    if wanted is None:
        wanted = files.served_version()
    cached = _cached
    if cached is not None and (wanted is None or wanted in (cached.version, _checked)):
        return cached
    if cached is not None and _served_bytes() > settings.CHLOPS_INDEX_RELOAD_SYNC_MAX_BYTES:
        _reload_in_background(wanted)
        return cached
    return _reload(wanted)


def _reload(wanted: int | None) -> IndexBundle:
    global _cached, _checked
    with _lock:
        if _cached is not None and wanted in (_cached.version, _checked):
            return _cached
        _cached = _load_served() or _cached
        _checked = wanted
        if _cached is None:
            raise IndexMissing(NO_INDEX)
        return _cached


def _served_bytes() -> int:
    directory = files.served_dir()
    try:
        return (directory / files.INDEX_FILE).stat().st_size if directory else 0
    except FileNotFoundError:
        return 0


def _reload_in_background(wanted: int | None) -> None:
    global _loading
    with _loading_lock:
        if _loading == wanted:
            return
        _loading = wanted

    def load() -> None:
        global _loading
        try:
            _reload(wanted)
        except Exception:  # noqa: BLE001 — searches go on with the set they have; the next one retries
            logger.exception("index version %s could not be loaded", wanted)
        finally:
            with _loading_lock:
                _loading = None

    threading.Thread(target=load, name=f"index-reload-{wanted}", daemon=True).start()


def _load_served() -> IndexBundle | None:
    for _ in range(3):
        directory = files.served_dir()
        if directory is None:
            return None
        try:
            return bundle_load(directory)
        except (FileNotFoundError, RuntimeError):
            continue  # two swaps happened while we read; `current` points somewhere newer now
    return None


def cache_clear() -> None:
    """Forget the loaded index (tests, and a process that must drop its memory)."""
    global _cached, _checked
    with _lock:
        _cached, _checked = None, None
