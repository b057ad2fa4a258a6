"""The corpus job types that `indexes` registers with `operations`."""

from __future__ import annotations

from typing import Any

from indexes.forms import (
    EmbedParamsForm,
    ExportParamsForm,
    ImportParamsForm,
    IngestParamsForm,
    ReindexParamsForm,
    SparseParamsForm,
)
from indexes.ingest import repository_ingest
from indexes.ingest.repository import repository_check
from indexes.peers.forms import VerifyParamsForm
from indexes.peers.selectors import verify_lock
from indexes.peers.verify import verify_run
from indexes.services.embedding import embed_job
from indexes.services.exporting import entries_export
from indexes.services.importing import entries_import
from indexes.snapshots.forms import RestoreParamsForm, SnapshotParamsForm
from indexes.sparse.building import sparse_generate
from operations.registry import JobType
from operations.runner import RunContext


def reindex_run(ctx: RunContext, params: dict[str, Any]) -> dict:
    from indexes.services.reindex import index_rebuild  # faiss loads only in processes that build

    return index_rebuild(ctx, params)


def snapshot_run(ctx: RunContext, params: dict[str, Any]) -> dict:
    from indexes.snapshots.services import snapshot_run as run  # reads the index store, which loads faiss

    return run(ctx, params)


def restore_run(ctx: RunContext, params: dict[str, Any]) -> dict:
    from indexes.snapshots.restore import snapshot_restore  # publishes through the store, which loads faiss

    return snapshot_restore(ctx, params)


IMPORT = JobType(name="import", label="Import", run=entries_import, form=ImportParamsForm, lock_key="import", module="ingestion")
EXPORT = JobType(name="export", label="Export", run=entries_export, form=ExportParamsForm, lock_key="export")
EMBED = JobType(name="embed", label="Embed", run=embed_job, form=EmbedParamsForm, lock_key="embed", module="embeddings")
# reindex, snapshot and restore share one lock: each replaces or reads the served index files.
REINDEX = JobType(name="reindex", label="Reindex", run=reindex_run, form=ReindexParamsForm, lock_key="index", module="index")
INGEST = JobType(
    name="ingest",
    label="Ingest",
    run=repository_ingest,
    form=IngestParamsForm,
    lock_key=lambda params: repository_check(url=params["url"]).lock_key,
    module="ingestion",
)
SPARSE = JobType(name="sparse", label="Sparse vectors", run=sparse_generate, form=SparseParamsForm, lock_key="sparse", module="index")

SNAPSHOT = JobType(name="snapshot", label="Snapshot", run=snapshot_run, form=SnapshotParamsForm, lock_key="index", module="index")
RESTORE = JobType(name="restore", label="Restore snapshot", run=restore_run, form=RestoreParamsForm, lock_key="index", module="index")

# A peer's connection or a credential (DESIGN §12); one at a time per target, quick, and off the long jobs' queue.
VERIFY = JobType(name="verify", label="Verify", run=verify_run, form=VerifyParamsForm, lock_key=verify_lock, queue="control")

ALL = (IMPORT, EXPORT, EMBED, REINDEX, INGEST, SPARSE, SNAPSHOT, RESTORE, VERIFY)
