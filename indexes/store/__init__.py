"""The FAISS index store: build, write to a staging dir, publish with an atomic swap, hot-reload.

Writers (reindex today; snapshot restore later) hold the `index` job lock and go through
`staging_dir()` → write files → `index_publish()`. A restore stages the snapshot's files the same
way and publishes them: another atomic swap, with the replaced set kept as `previous`.
Readers call `index_current()` and keep the bundle for the whole of one search.

Reading the manifest needs no FAISS. Everything else loads FAISS when first used (the module's
`__getattr__`), so a process that only draws the dashboard never loads it, and the web process
loads it on its first search.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indexes.store import files, reload
from indexes.store.files import IndexMissing, index_manifest, served_dir, staging_dir, staging_leftovers_remove

__all__ = [
    "Built",
    "IndexBundle",
    "IndexMissing",
    "cache_clear",
    "files",
    "index_build",
    "index_current",
    "index_manifest",
    "index_publish",
    "reload",
    "served_dir",
    "set_write",
    "staging_dir",
    "staging_leftovers_remove",
]


def index_publish(
    *, staged: Path, manifest: dict[str, Any], hashes: dict[str, str] | None = None, checkpoint=None
) -> dict[str, Any]:
    """Swap a staged set in as the served index and tell every process; return the sealed manifest.

    `hashes` are the checksums `set_write` returned; without them every file is read and hashed.
    """
    sealed = files.set_publish(staged=staged, manifest=manifest, hashes=hashes, checkpoint=checkpoint)
    reload.reloaded_broadcast(manifest=sealed)
    return sealed


# Names served by the submodules that import FAISS, loaded on first use.
_WITH_FAISS = {
    "Built": "build",
    "index_build": "build",
    "IndexBundle": "reader",
    "cache_clear": "reader",
    "index_current": "reader",
    "set_write": "writing",
}


def __getattr__(name: str) -> Any:
    if name not in _WITH_FAISS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from indexes.store import build, reader, writing

    value = getattr({"build": build, "reader": reader, "writing": writing}[_WITH_FAISS[name]], name)
    globals()[name] = value
    return value
