"""Where snapshot ZIPs live, and writing one atomically (temp file, fsync, rename)."""

from __future__ import annotations

import os
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from chlops.fileio import fsync_path

COPY_BLOCK = 1024 * 1024
MANIFEST = "manifest.json"


def snapshots_dir() -> Path:
    path = Path(settings.DATA_DIR) / "snapshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def snapshot_file(*, relative: str) -> Path:
    return snapshots_dir() / relative


@contextmanager
def zip_written(*, final_name: str) -> Iterator[tuple[zipfile.ZipFile, Callable[[], Path]]]:
    """Yield an open ZIP on a temporary path and a `seal()` that fsyncs and renames it to final_name.

    Without `seal()` (an error, a cancel) the temporary file is removed.
    """
    temporary = snapshots_dir() / f".tmp-{uuid.uuid4().hex}.zip"
    final = snapshots_dir() / final_name
    sealed = False
    handle = zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_STORED, allowZip64=True)

    def seal() -> Path:
        nonlocal sealed
        handle.close()
        fsync_path(temporary)
        os.rename(temporary, final)
        fsync_path(snapshots_dir())
        sealed = True
        return final

    try:
        yield handle, seal
    finally:
        if not sealed:
            handle.close()
            temporary.unlink(missing_ok=True)


def file_into_zip(
    archive: zipfile.ZipFile, *, source: Path, name: str, checkpoint: Callable[[], None] | None = None
) -> None:
    """Copy one file into the archive in blocks, calling checkpoint between blocks."""
    with open(source, "rb") as reader, archive.open(name, "w", force_zip64=True) as writer:
        while block := reader.read(COPY_BLOCK):
            writer.write(block)
            if checkpoint:
                checkpoint()
