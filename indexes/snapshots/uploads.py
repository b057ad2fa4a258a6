"""Receive an uploaded snapshot straight into its staging dir, with the size cap enforced while it streams."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

UPLOAD_NAME = "upload.zip"


class StagingUploadHandler(FileUploadHandler):
    """Write the `file` field into staging/upload.zip; stop (and mark too_big) past max_bytes."""

    def __init__(self, request=None, *, staged: Path, max_bytes: int) -> None:
        super().__init__(request)
        self.staged, self.max_bytes = staged, max_bytes
        self.path = staged / UPLOAD_NAME
        self.received = 0
        self.too_big = False
        self.handle = None

    def new_file(self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        if field_name != "file" or self.handle is not None:
            return
        self.handle = open(self.path, "wb")  # noqa: SIM115 — closed in file_complete or upload_interrupted

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if self.field_name != "file":
            return raw_data
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.too_big = True
            self._close()
            raise StopUpload(connection_reset=False)
        self.handle.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self.field_name != "file" or self.handle is None:
            return None
        self._close()
        return UploadedFile(file=None, name=self.file_name, content_type=self.content_type, size=file_size)

    def upload_interrupted(self) -> None:
        self._close()

    def _close(self) -> None:
        if self.handle is not None and not self.handle.closed:
            self.handle.close()
