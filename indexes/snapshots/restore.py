"""The `restore` job: validate a stored snapshot again, snapshot what it replaces, swap it in, hot-reload."""

from __future__ import annotations

from typing import Any

from audit.models import Outcome
from audit.services import audit_record
from chlops.exceptions import ChlopsError
from indexes.embedders import embedder_get
from indexes.models import IndexSnapshot, SnapshotSource
from indexes.snapshots.services import (
    INDEX_KEYS,
    snapshot_get,
    snapshot_refused,
    snapshot_save,
    snapshots_card_changed,
)
from indexes.snapshots.storage import snapshot_file
from indexes.snapshots.validate import SnapshotRefused, snapshot_unpack
from indexes.store import index_publish, served_dir, staging_dir, staging_leftovers_remove
from operations import broadcasts, services

INDEX_CARD = "index-card"


class RestoreNotConfirmed(ChlopsError):
    status = 400
    exit_code = 2


def restore_start(*, snapshot_id: int, confirm: str | None, actor: Any, source: str, request=None):
    """Start the restore job once the caller has typed the snapshot's name; return the job."""
    snapshot = snapshot_get(snapshot_id=snapshot_id)
    if (confirm or "").strip() != snapshot.name:
        audit_record(
            action="snapshot.restore",
            source=source,
            actor=actor,
            target=snapshot.name,
            outcome=Outcome.FAILURE,
            details={"snapshot_id": snapshot.pk, "reason": "the confirmation did not match"},
            request=request,
        )
        raise RestoreNotConfirmed(
            f"To restore it, type the snapshot's name exactly: {snapshot.name} (it replaces the served index)."
        )
    return services.job_start(type="restore", params={"snapshot": snapshot.pk}, actor=actor, source=source)


def snapshot_restore(ctx, params: dict[str, Any]) -> dict[str, Any]:
    """Validate the snapshot, save the served set as a backup snapshot, then publish the snapshot's set."""
    job = ctx.job
    snapshot: IndexSnapshot = snapshot_get(snapshot_id=params["snapshot"])
    if left := staging_leftovers_remove():
        ctx.log("Removed sets left half-written by an earlier writer.", dirs=left)
    ctx.progress(0, 3, phase="validating")
    with staging_dir() as staged:
        try:
            manifest = snapshot_unpack(
                zip_path=snapshot_file(relative=snapshot.path),
                staged=staged,
                expected_dimension=embedder_get().dimension,
                checkpoint=ctx.checkpoint,
            )
        except SnapshotRefused as exc:
            snapshot_refused(
                reason=exc.message, filename=snapshot.name, actor=job.requested_by, source=job.source, job_id=job.pk
            )
            raise
        ctx.progress(1, 3, phase="backing up")
        backup = None
        if served_dir() is not None:
            backup = snapshot_save(
                source=SnapshotSource.RESTORE_BACKUP,
                actor=job.requested_by,
                correlation_id=ctx.correlation_id,
                checkpoint=ctx.checkpoint,
                audit_source=job.source,
            )
            ctx.log(f"Saved the replaced index as snapshot {backup.name}.", snapshot_id=backup.pk)
        ctx.progress(2, 3, phase="swapping")
        ctx.checkpoint()  # the last point to cancel: after the swap the job runs to its end
        index_manifest = {key: manifest.get(key) for key in INDEX_KEYS if key != "version"}
        index_manifest.update(
            restored_from=snapshot.name,
            restored_version=manifest.get("version"),
            correlation_id=str(ctx.correlation_id),
        )
        sealed = index_publish(staged=staged, manifest=index_manifest)
    ctx.progress(3, 3, phase="swapping")
    result = {
        "snapshot_id": snapshot.pk,
        "name": snapshot.name,
        "version": sealed["version"],
        "vectors": sealed["vectors"],
        "backup_id": backup.pk if backup else None,
        "backup_name": backup.name if backup else None,
    }
    audit_record(
        action="snapshot.restore",
        source=job.source,
        actor=job.requested_by,
        target=snapshot.name,
        details={**result, "job_id": job.pk},
        correlation_id=ctx.correlation_id,
    )
    broadcasts.card_changed(INDEX_CARD)
    snapshots_card_changed()
    return result
