"""The served index on disk: versioned directories, a `current` symlink swapped atomically, fsync.

Layout of settings.INDEX_DIR:

    v000041/            the previous set, kept as a backup (`previous` points at it)
    v000042/            index.faiss, ids.npy, kinds.npy, manifest.json — never changed once published
    current -> v000042  the served set
    previous -> v000041
    .build-*/           sets being written; removed on failure, cancel, or by the next writer

Why a symlink and not a pointer file: `os.replace` of a new symlink over `current` is one atomic
rename on POSIX, and a reader resolves it once (`os.readlink`) and then reads a directory that never
changes, so it sees the old set or the new one, never a mix. The versioned directory itself is
published by a rename too, so `current` never points at a half-written set.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from chlops.exceptions import ServiceUnavailable
from chlops.fileio import fsync_path

CURRENT = "current"
PREVIOUS = "previous"
MANIFEST = "manifest.json"
INDEX_FILE = "index.faiss"
IDS_FILE = "ids.npy"
KINDS_FILE = "kinds.npy"
DATA_FILES = (INDEX_FILE, IDS_FILE, KINDS_FILE)
BUILD_PREFIX = ".build-"
VERSION_DIR = re.compile(r"^v(\d{6,})$")
HASH_BLOCK = 4 * 1024 * 1024


NO_INDEX = "No index has been built yet; run the reindex job from the dashboard or with `manage.py jobs run reindex`."


class IndexMissing(ServiceUnavailable):
    pass


def index_dir() -> Path:
    path = Path(settings.INDEX_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def version_dir_name(version: int) -> str:
    return f"v{version:06d}"


def served_dir() -> Path | None:
    """The directory `current` points at, or None before the first build."""
    try:
        return index_dir() / os.readlink(index_dir() / CURRENT)
    except FileNotFoundError:
        return None


def served_version() -> int | None:
    """The version `current` points at, read from the link alone (one syscall)."""
    try:
        match = VERSION_DIR.match(os.readlink(index_dir() / CURRENT))
    except FileNotFoundError:
        return None
    return int(match.group(1)) if match else None


def manifest_read(directory: Path) -> dict[str, Any]:
    return json.loads((directory / MANIFEST).read_text())


def file_sha256(path: Path, *, checkpoint: Callable[[], None] | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(HASH_BLOCK):
            digest.update(block)
            if checkpoint:
                checkpoint()
    return digest.hexdigest()


@contextmanager
def staging_dir() -> Iterator[Path]:
    """A fresh directory inside the index dir to write a set into; removed unless it was published."""
    path = Path(tempfile.mkdtemp(prefix=BUILD_PREFIX, dir=index_dir()))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def staging_leftovers_remove() -> list[str]:
    """Remove sets left half-written by a killed writer; call only while holding the `index` lock."""
    removed = []
    for path in index_dir().glob(f"{BUILD_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    for path in [*index_dir().glob(f".{CURRENT}-*"), *index_dir().glob(f".{PREVIOUS}-*")]:
        path.unlink(missing_ok=True)  # a new link that was never renamed into place
        removed.append(path.name)
    return removed


def _versions_on_disk() -> list[int]:
    return sorted(int(m.group(1)) for p in index_dir().iterdir() if (m := VERSION_DIR.match(p.name)))


def _link_replace(name: str, target: str) -> None:
    # A new symlink under a unique name, renamed over the old one: atomic on POSIX.
    temporary = index_dir() / f".{name}-{uuid.uuid4().hex}"
    os.symlink(target, temporary)
    os.replace(temporary, index_dir() / name)


def set_publish(
    *,
    staged: Path,
    manifest: dict[str, Any],
    hashes: dict[str, str] | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Seal a staged set (checksums, version, fsync) and make it the served one; return its manifest.

    The caller holds the `index` lock, so versions cannot race; the staged files stay as they are.
    `hashes` are checksums taken while the files were written; missing ones are computed here.
    """
    present = [name for name in DATA_FILES if (staged / name).exists()]
    known = hashes or {}
    version = max([0, *_versions_on_disk()]) + 1
    sealed = {
        **manifest,
        "version": version,
        "published_at": timezone.now().isoformat(),
        "size_bytes": sum((staged / name).stat().st_size for name in present),
        "files": {name: known.get(name) or file_sha256(staged / name, checkpoint=checkpoint) for name in present},
    }
    (staged / MANIFEST).write_text(json.dumps(sealed, indent=2, sort_keys=True))
    for path in staged.iterdir():
        fsync_path(path)
    fsync_path(staged)
    final = index_dir() / version_dir_name(version)
    os.rename(staged, final)
    fsync_path(index_dir())
    before = served_dir()
    _link_replace(CURRENT, final.name)
    if before is not None and before.name != final.name:
        _link_replace(PREVIOUS, before.name)
    fsync_path(index_dir())
    _old_versions_remove(keep={final.name, before.name if before else ""})
    return sealed


def _old_versions_remove(*, keep: set[str]) -> None:
    for path in index_dir().iterdir():
        if VERSION_DIR.match(path.name) and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def index_manifest() -> dict[str, Any] | None:
    """The manifest of the served set, read from disk without loading the index; None before the first build."""
    for _ in range(3):
        directory = served_dir()
        if directory is None:
            return None
        try:
            return manifest_read(directory)
        except FileNotFoundError:
            continue
    return None
