"""Store uploaded files under the data dir, capped in size while they stream in."""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.template.defaultfilters import filesizeformat

from audit.services import audit_record
from chlops.exceptions import ChlopsError
from operations.models import Upload


class UploadTooLarge(ChlopsError):
    status = 413


class UploadMissing(ChlopsError):
    pass


def too_large_message() -> str:
    cap = filesizeformat(settings.CHLOPS_UPLOAD_MAX_BYTES)
    return f"The file is larger than the upload limit of {cap} (CHLOPS_UPLOAD_MAX_BYTES); split it or raise the limit."


class CappedUploadHandler(TemporaryFileUploadHandler):
    """Stop reading the body as soon as it passes the cap, whatever Content-Length claimed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int):
        self.received += len(raw_data)
        if self.received > settings.CHLOPS_UPLOAD_MAX_BYTES:
            self.exceeded = True
            self.file.close()
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)


def upload_store(*, file: UploadedFile, actor: Any, source: str) -> Upload:
    """Move an uploaded file into the data dir and record it."""
    settings.UPLOAD_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    upload_id = uuid.uuid4()
    target = settings.UPLOAD_DIR / str(upload_id)
    digest = hashlib.sha256()
    tmp = target.with_suffix(".part")
    with open(tmp, "wb") as out:
        for chunk in file.chunks():
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)
    name = os.path.basename(file.name or "upload")[:255]
    upload = Upload.objects.create(id=upload_id, name=name, size=target.stat().st_size, sha256=digest.hexdigest(), uploaded_by=actor)
    audit_record(action="upload.create", actor=actor, source=source, target=name, details={"id": str(upload.pk), "size": upload.size})
    return upload

