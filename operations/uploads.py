"""Receive uploads capped in size, for every upload entry point, and store them under the data dir."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, QueryDict
from django.template.defaultfilters import filesizeformat
from django.utils.datastructures import MultiValueDict
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from audit.services import audit_record
from chlops.exceptions import ChlopsError
from operations.models import Upload

# Multipart framing (boundaries, part headers, small fields) around the file: a body declaring more
# than the cap plus this cannot hold a file under the cap.
FRAMING_BYTES = 64 * 1024


class UploadTooLarge(ChlopsError):
    status = 413


class UploadMissing(ChlopsError):
    pass


def too_large_message(limit: int | None = None) -> str:
    cap = filesizeformat(settings.CHLOPS_UPLOAD_MAX_BYTES if limit is None else limit)
    return f"The file is larger than the upload limit of {cap} (CHLOPS_UPLOAD_MAX_BYTES); split it or raise the limit."


def _temp_dir() -> Path:
    return Path(settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir())


@dataclass(frozen=True)
class UploadCap:
    """One kind of upload: the setting that caps it, the sentence that refuses more, where it is staged."""

    setting: str = "CHLOPS_UPLOAD_MAX_BYTES"
    refusal: Callable[[int], str] = too_large_message
    staging: Callable[[], Path] = _temp_dir

    def max_bytes(self) -> int:
        return getattr(settings, self.setting)


FILE_UPLOAD = UploadCap()


class StagedFile(UploadedFile):
    """A file the capped handler wrote to disk; it lives until the request's staging dir is removed."""

    def temporary_file_path(self) -> str:
        return self.file.name


class CappedUploadHandler(FileUploadHandler):
    """Stream every file of a multipart body to disk, refusing a body over the cap before or while it is read."""

    def __init__(self, request: HttpRequest, *, cap: UploadCap) -> None:
        super().__init__(request)
        self.max_bytes = cap.max_bytes()
        self.refusal = cap.refusal(self.max_bytes)
        self.staging = cap.staging()
        self.directory: Path | None = None
        self.received = 0
        self.exceeded = False
        self.file = None  # the name Django's parser closes on StopUpload

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > self.max_bytes + FRAMING_BYTES:
            self.exceeded = True
            return QueryDict(encoding=encoding), MultiValueDict()  # parsed as empty: not one byte is read
        return None

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        if self.directory is None:
            self.staging.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.directory = Path(tempfile.mkdtemp(dir=self.staging))
        self.file = tempfile.NamedTemporaryFile(dir=self.directory, suffix=".upload", delete=False)  # noqa: SIM115

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.exceeded = True
            self.file.close()
            os.unlink(self.file.name)
            # Content-Length passed the check above, so draining the rest costs at most FRAMING_BYTES,
            # and the client reads a clean 413 instead of a reset connection.
            raise StopUpload(connection_reset=False)
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> StagedFile:
        self.file.flush()
        self.file.seek(0)
        return StagedFile(
            file=self.file,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )


@contextmanager
def upload_capture(request: HttpRequest, cap: UploadCap = FILE_UPLOAD) -> Iterator[CappedUploadHandler]:
    """Put the capped handler on `request` before anything reads its body; remove what it staged afterwards."""
    handler = CappedUploadHandler(request, cap=cap)
    request.upload_handlers = [handler]
    try:
        yield handler
    finally:
        if handler.directory is not None:
            shutil.rmtree(handler.directory, ignore_errors=True)


def upload_files(request: Any) -> MultiValueDict:
    """Return the request's uploaded files, or raise UploadTooLarge with its cap's sentence."""
    files = request.FILES
    handler = next((h for h in request.upload_handlers if isinstance(h, CappedUploadHandler)), None)
    if handler is None:
        raise ImproperlyConfigured("Receive uploads through upload_view or UploadViewMixin, which cap their size.")
    if handler.exceeded:
        raise UploadTooLarge(handler.refusal)
    return files


def upload_view(cap: UploadCap = FILE_UPLOAD) -> Callable:
    """Decorate a function view that takes an upload: cap it first, then check CSRF as the middleware would."""

    def decorator(view: Callable) -> Callable:
        # The CSRF check reads the form, hence the body; the middleware's check would run before any
        # handler is in place, so it is skipped and done here, once the capped handler is.
        protected = csrf_protect(view)

        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            with upload_capture(request, cap):
                return protected(request, *args, **kwargs)

        return csrf_exempt(wrapped)

    return decorator


class UploadViewMixin:
    """For a DRF view that takes an upload: cap it before authentication (whose CSRF check reads the body)."""

    upload_cap: UploadCap = FILE_UPLOAD

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with upload_capture(request, self.upload_cap):
            return super().dispatch(request, *args, **kwargs)


def upload_store(*, file: UploadedFile, actor: Any, source: str) -> Upload:
    """Move an uploaded file into the data dir and record it."""
    settings.UPLOAD_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    upload_id = uuid.uuid4()
    target = settings.UPLOAD_DIR / str(upload_id)
    digest = hashlib.sha256()
    tmp = target.with_suffix(".part")
    try:
        with open(tmp, "wb") as out:
            for chunk in file.chunks():
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)  # a copy cut short (disk full) must not stay behind
    name = os.path.basename(file.name or "upload")[:255]
    upload = Upload.objects.create(id=upload_id, name=name, size=target.stat().st_size, sha256=digest.hexdigest(), uploaded_by=actor)
    audit_record(action="upload.create", actor=actor, source=source, target=name, details={"id": str(upload.pk), "size": upload.size})
    return upload
