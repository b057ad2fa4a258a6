"""The `ingest` job: shallow-clone a git repository and keep its text files as `document` entries.

Phases: cloning (bytes on disk), reading (files listed and sniffed), writing (files chunked and
upserted in batches), removing (entries of files or chunks that vanished since the last ingest of
the same repository). The temporary directory goes in every outcome. Nothing is written before the
clone succeeded and the file count is within its cap, so a failed clone touches no entry.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings

from indexes.ingest.chunking import chunks_of
from indexes.ingest.cloning import Clone, repository_clone
from indexes.ingest.errors import IngestFailed
from indexes.ingest.files import file_read, files_list, is_markdown
from indexes.ingest.repository import Repository, ref_check, repository_check
from indexes.ingest.selectors import CARD
from indexes.ingest.writing import (
    Document,
    WriteTally,
    documents_write,
    entries_remove,
    external_id_for,
    title_clip,
    vanished_pks,
)
from operations import broadcasts

__all__ = ["IngestFailed", "repository_ingest"]

BATCH_CHUNKS = 500  # chunks per write transaction
TICK_SECONDS = 0.1


def repository_ingest(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Ingest the repository params name (`url`, optional `ref`); return counts of files, chunks and changes."""
    repository = repository_check(url=params["url"])
    ref = ref_check(ref=params["ref"]) if params.get("ref") else None
    workdir = Path(tempfile.mkdtemp(prefix="chlops-ingest-", dir=settings.CHLOPS_INGEST_TMP_DIR or None))
    ctx.log(f"Cloning {repository.name}{f' at {ref}' if ref else ''} into {workdir}.", workdir=str(workdir))
    try:
        ctx.progress(0, None, phase="cloning")
        clone = repository_clone(ctx=ctx, repository=repository, ref=ref, into=workdir)
        ctx.log(f"Cloned {clone.ref} at commit {clone.commit}.", commit=clone.commit, ref=clone.ref)
        result = _Ingest(ctx, repository, clone).run()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    broadcasts.card_changed(CARD)
    return result


class _Ingest:
    def __init__(self, ctx: Any, repository: Repository, clone: Clone) -> None:
        self.ctx = ctx
        self.repository = repository
        self.clone = clone
        self.tally = WriteTally()
        self.skipped: Counter = Counter()
        self.files = 0
        self.chunks = 0
        self.last_tick = 0.0

    def run(self) -> dict[str, Any]:
        paths = self._list()
        self._write(paths)
        self._remove()
        return {
            "repository": self.repository.name,
            "ref": self.clone.ref,
            "commit": self.clone.commit,
            "files": self.files,
            "chunks": self.chunks,
            "created": self.tally.created,
            "updated": self.tally.updated,
            "unchanged": self.tally.unchanged,
            "removed": self.tally.removed,
            "skipped": {
                "binary": self.skipped["binary"],
                "symlink": self.skipped["symlink"],
                "too_large": self.skipped["too_large"],
                "other": self.skipped["other"],
            },
        }

    def _list(self) -> list[str]:
        self.ctx.progress(0, None, phase="reading")
        listing = files_list(
            root=self.clone.path, max_file_bytes=settings.CHLOPS_INGEST_MAX_FILE_BYTES, tick=self.ctx.checkpoint
        )
        self.skipped.update(listing.skipped)
        cap = settings.CHLOPS_INGEST_MAX_FILES
        if len(listing.paths) > cap:
            raise IngestFailed(
                f"{self.repository.name} has {len(listing.paths):,} text files, more than the {cap:,} that one ingest "
                "may read (CHLOPS_INGEST_MAX_FILES); nothing was written. Ask an administrator to raise the limit."
            )
        self.ctx.progress(len(listing.paths), len(listing.paths))
        return listing.paths

    def _write(self, paths: list[str]) -> None:
        self.ctx.progress(0, len(paths), phase="writing")
        pending: list[Document] = []
        for done, path in enumerate(paths, start=1):
            self._tick(done - 1, len(paths))
            text = file_read(root=self.clone.path, path=path)
            if text is None:
                self.skipped["binary"] += 1
                continue
            self.files += 1
            for number, chunk in enumerate(chunks_of(path=path, text=text, markdown=is_markdown(path))):
                pending.append(self._document(path, number, chunk.title, chunk.body))
            if len(pending) >= BATCH_CHUNKS:
                self._flush(pending)
                pending = []
        self._flush(pending)
        self.ctx.progress(len(paths), len(paths))

    def _document(self, path: str, number: int, title: str, body: str) -> Document:
        self.chunks += 1
        name = self.repository.name
        return Document(
            external_id=external_id_for(repository=name, path=path, chunk=number),
            title=title_clip(title),
            body=body,
            metadata={
                "repository": name,
                "path": path,
                "ref": self.clone.ref,
                "commit": self.clone.commit,
                "chunk": number,
            },
        )

    def _flush(self, documents: list[Document]) -> None:
        self.ctx.checkpoint()
        documents_write(origin=self.repository.name, documents=documents, tally=self.tally)

    def _remove(self) -> None:
        self.ctx.checkpoint()
        pks = vanished_pks(origin=self.repository.name, seen=self.tally.seen)
        self.ctx.progress(0, len(pks), phase="removing")
        self.ctx.checkpoint()
        self.tally.removed = entries_remove(pks=pks)
        self.ctx.progress(len(pks), len(pks))

    def _tick(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last_tick >= TICK_SECONDS:
            self.last_tick = now
            self.ctx.checkpoint()
            self.ctx.progress(done, total)
