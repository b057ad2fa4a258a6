"""Receive an uploaded snapshot ZIP through operations' capped upload, staged beside the other snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indexes.models import IndexSnapshot
from indexes.snapshots.services import snapshot_import, snapshot_refused
from indexes.snapshots.storage import snapshots_dir
from operations.uploads import UploadCap, UploadTooLarge, upload_files


def too_large_message(limit: int) -> str:
    return f"The snapshot was refused: it is larger than {limit} bytes (CHLOPS_SNAPSHOT_MAX_BYTES)."


def _staging() -> Path:
    return snapshots_dir() / "staging"


SNAPSHOT_UPLOAD = UploadCap(setting="CHLOPS_SNAPSHOT_MAX_BYTES", refusal=too_large_message, staging=_staging)


def snapshot_upload_import(request: Any, *, source: str) -> IndexSnapshot | None:
    """Import the ZIP sent as the field 'file' as a new snapshot (None when there is none); audit a refusal."""
    try:
        upload = upload_files(request).get("file")
    except UploadTooLarge as exc:
        snapshot_refused(reason=exc.message, filename="upload", actor=request.user, source=source, request=request)
        raise
    if upload is None:
        return None
    zip_path = Path(upload.temporary_file_path())
    return snapshot_import(
        zip_path=zip_path,
        staged=zip_path.parent,  # the request's own staging dir, removed with it
        filename=upload.name or "upload.zip",
        actor=request.user,
        source=source,
        request=request,
    )
