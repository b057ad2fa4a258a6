"""Writes of snapshots: save the served set (the `snapshot` job), delete one."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.utils import timezone

from audit.models import Outcome
from audit.services import audit_record
from chlops.exceptions import ChlopsError
from indexes.embedders import embedder_get
from indexes.models import IndexSnapshot, SnapshotSource
from indexes.snapshots.storage import MANIFEST, file_into_zip, snapshot_file, snapshots_dir, zip_written
from indexes.snapshots.validate import SnapshotRefused, snapshot_unpack
from indexes.store.files import DATA_FILES, file_sha256, manifest_read, served_dir
from operations import broadcasts

SNAPSHOTS_CARD = "snapshots-card"
# Carried from the index manifest into the snapshot's, so a restore can publish the set as it was.
INDEX_KEYS = (
    "version",
    "vectors",
    "dimension",
    "embedder",
    "index_type",
    "search_params",
    "recall_at_10",
    "kinds",
    "built_at",
)


class NothingToSnapshot(ChlopsError):
    status = 409


class SnapshotNotFound(ChlopsError):
    status = 404
    exit_code = 3


def snapshot_name(*, version: int | None) -> str:
    """A fresh unique name: snap-YYYYMMDD-HHMMSS-v<version>, with a suffix if that second is taken."""
    base = f"snap-{timezone.now():%Y%m%d-%H%M%S}-v{version or 0}"
    name, n = base, 1
    while IndexSnapshot.objects.filter(name=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def snapshot_save(
    *,
    source: str,
    actor: Any,
    correlation_id: uuid.UUID | str | None,
    checkpoint: Callable[[], None] | None = None,
    audit_source: str = "system",
) -> IndexSnapshot:
    """Copy the served index files and a manifest with checksums into a new snapshot ZIP; audit it."""
    served = served_dir()
    if served is None:
        raise NothingToSnapshot("There is no served index to snapshot yet; run the reindex job first.")
    index_manifest = manifest_read(served)
    name = snapshot_name(version=index_manifest.get("version"))
    names = [file for file in DATA_FILES if (served / file).exists()]
    files = {
        file: {"sha256": file_sha256(served / file, checkpoint=checkpoint), "size": (served / file).stat().st_size}
        for file in names
    }
    manifest = {
        "format": 1,
        "name": name,
        **{key: index_manifest.get(key) for key in INDEX_KEYS},
        "files": files,
        "created_at": timezone.now().isoformat(),
        "created_by": getattr(actor, "username", None) or "system",
        "correlation_id": str(correlation_id) if correlation_id else None,
        "source": source,
    }
    return _snapshot_write(
        directory=served,
        manifest=manifest,
        source=source,
        actor=actor,
        correlation_id=correlation_id,
        checkpoint=checkpoint,
        audit_source=audit_source,
    )


def _snapshot_write(
    *,
    directory: Path,
    manifest: dict[str, Any],
    source: str,
    actor: Any,
    correlation_id: uuid.UUID | str | None,
    checkpoint: Callable[[], None] | None,
    audit_source: str,
    request=None,
) -> IndexSnapshot:
    """Store the data files of `directory` and `manifest` as a new snapshot ZIP and row; audit it."""
    name = manifest["name"]
    with zip_written(final_name=f"{name}.zip") as (archive, seal):
        for file in manifest["files"]:
            file_into_zip(archive, source=directory / file, name=file, checkpoint=checkpoint)
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
        if checkpoint:
            checkpoint()
        path = seal()
    snapshot = IndexSnapshot.objects.create(
        name=name,
        created_by=actor if getattr(actor, "pk", None) else None,
        source=source,
        correlation_id=correlation_id,
        manifest=manifest,
        size_bytes=path.stat().st_size,
        path=path.name,
    )
    audit_record(
        action="snapshot.create",
        source=audit_source,
        actor=actor,
        target=name,
        details={
            "snapshot_id": snapshot.pk,
            "version": manifest.get("version"),
            "bytes": snapshot.size_bytes,
            "from": source,
        },
        correlation_id=correlation_id,
        request=request,
    )
    snapshots_card_changed()
    return snapshot


@contextmanager
def staging_area() -> Iterator[Path]:
    """A fresh DATA_DIR/snapshots/staging/<uuid> dir; removed in every outcome."""
    path = snapshots_dir() / "staging" / uuid.uuid4().hex
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def snapshot_import(
    *, zip_path: Path, staged: Path, filename: str, actor: Any, source: str, request=None
) -> IndexSnapshot:
    """Validate an uploaded ZIP (unpacked under `staged`) and store it as a new snapshot; audit a refusal."""
    unpacked = staged / "files"
    unpacked.mkdir()
    try:
        uploaded = snapshot_unpack(zip_path=zip_path, staged=unpacked, expected_dimension=embedder_get().dimension)
    except SnapshotRefused as exc:
        snapshot_refused(reason=exc.message, filename=filename, actor=actor, source=source, request=request)
        raise
    correlation_id = uuid.uuid4()
    manifest = {
        **uploaded,
        "name": snapshot_name(version=uploaded.get("version")),
        "uploaded_name": uploaded.get("name"),
        "created_at": timezone.now().isoformat(),
        "created_by": getattr(actor, "username", None) or source,
        "correlation_id": str(correlation_id),
        "source": SnapshotSource.UPLOAD,
    }
    return _snapshot_write(
        directory=unpacked,
        manifest=manifest,
        source=SnapshotSource.UPLOAD,
        actor=actor,
        correlation_id=correlation_id,
        checkpoint=None,
        audit_source=source,
        request=request,
    )


def snapshot_refused(*, reason: str, filename: str, actor: Any, source: str, request=None, **details: Any) -> None:
    """Audit a refused snapshot: which file, and why."""
    audit_record(
        action="snapshot.refused",
        source=source,
        actor=actor,
        target=filename[:255],
        outcome=Outcome.FAILURE,
        details={"reason": reason, "file": filename, **details},
        request=request,
    )


def snapshot_run(ctx, params: dict[str, Any]) -> dict[str, Any]:
    """The `snapshot` job: save the served index as a new snapshot."""
    ctx.progress(0, 1, phase="copying")
    job = ctx.job
    snapshot = snapshot_save(
        source=SnapshotSource.JOB,
        actor=job.requested_by,
        correlation_id=ctx.correlation_id,
        checkpoint=ctx.checkpoint,
        audit_source=job.source,
    )
    ctx.progress(1, 1, phase="copying")
    return {"snapshot_id": snapshot.pk, "name": snapshot.name, "size_bytes": snapshot.size_bytes}


def snapshot_get(*, snapshot_id: int) -> IndexSnapshot:
    try:
        return IndexSnapshot.objects.get(pk=snapshot_id)
    except (IndexSnapshot.DoesNotExist, ValueError, TypeError):
        raise SnapshotNotFound(
            f"There is no snapshot with id {snapshot_id}; list them with `snapshots list`."
        ) from None


def snapshot_delete(*, snapshot_id: int, actor: Any, source: str, request=None) -> str:
    """Remove a snapshot's ZIP and row; audit it; return its name."""
    snapshot = snapshot_get(snapshot_id=snapshot_id)
    name = snapshot.name
    snapshot_file(relative=snapshot.path).unlink(missing_ok=True)
    snapshot.delete()
    audit_record(
        action="snapshot.delete",
        source=source,
        actor=actor,
        target=name,
        details={"snapshot_id": snapshot_id},
        request=request,
    )
    snapshots_card_changed()
    return name


def snapshots_card_changed() -> None:
    broadcasts.card_changed(SNAPSHOTS_CARD)


__all__ = ["snapshots_dir", "snapshot_save", "snapshot_run", "snapshot_delete", "snapshot_get"]
