"""Open what an import reads: an upload, a file in the import directory, or an http(s) URL."""

from __future__ import annotations

import http.client
import io
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

from django.conf import settings

from indexes.services.importing.errors import ImportFailed
from operations.models import Upload

READ_BUFFER = 1 << 20  # bytes; large reads keep the Python overhead per byte negligible
URL_SCHEMES = ("http", "https")


class CountingReader(io.RawIOBase):
    """Count the bytes read through it; fail with a sentence past a cap or on a broken read."""

    def __init__(self, raw: Any, *, label: str, cap: int | None = None, cap_message: str = "") -> None:
        self.raw = raw
        self.label = label
        self.count = 0
        self.cap = cap
        self.cap_message = cap_message

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            n = self.raw.readinto(buffer) or 0
        except TimeoutError:
            raise ImportFailed(
                f"{self.label} stopped sending data for more than {settings.CHLOPS_URL_IMPORT_TIMEOUT} seconds "
                "(CHLOPS_URL_IMPORT_TIMEOUT); try again, or upload the file instead."
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise ImportFailed(f"Reading {self.label} failed after {self.count} bytes: {exc}. Try again.") from None
        self.count += n
        if self.cap is not None and self.count > self.cap:
            raise ImportFailed(self.cap_message)
        return n

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            super().close()


@dataclass
class Source:
    """A binary stream to import, its size when known up front, and a name for messages."""

    stream: io.BufferedReader
    counter: CountingReader
    size: int | None
    label: str

    @property
    def bytes_read(self) -> int:
        return self.counter.count

    def close(self) -> None:
        self.stream.close()


def import_path_resolve(*, path: str) -> Path:
    """Return the file `path` names inside the import directory, or raise ImportFailed."""
    root = settings.IMPORT_DIR
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root):
        raise ImportFailed(f"The path must lie inside the import directory ({root}); {path!r} does not.")
    if not candidate.is_file():
        raise ImportFailed(f"There is no file {path!r} in the import directory ({root}).")
    return candidate


def url_check(*, url: str) -> str:
    """Return the URL if it is http(s) with a host, or raise ImportFailed."""
    parsed = urlparse(url)
    if parsed.scheme not in URL_SCHEMES or not parsed.netloc:
        raise ImportFailed(f"Only http:// and https:// URLs can be imported, not {url!r}.")
    return url


def source_open(*, params: dict[str, Any]) -> Source:
    """Open the one source that the job's parameters name."""
    if params.get("upload"):
        return _open_upload(str(params["upload"]))
    if params.get("path"):
        path = import_path_resolve(path=params["path"])
        return _open_file(path, label=f"the file {params['path']!r}")
    if params.get("url"):
        return _open_url(url_check(url=params["url"]))
    raise ImportFailed("Give exactly one source: an upload, a path or a URL.")


def _open_upload(upload_id: str) -> Source:
    upload = Upload.objects.filter(pk=upload_id).first()
    if upload is None or not upload.path.is_file():
        raise ImportFailed(f"The uploaded file {upload_id} no longer exists; upload it again.")
    return _open_file(upload.path, label=f"the upload {upload.name!r}")


def _open_file(path: Path, *, label: str) -> Source:
    try:
        raw = open(path, "rb", buffering=0)  # noqa: SIM115 — closed by Source.close()
    except OSError as exc:
        raise ImportFailed(f"Could not open {label}: {exc.strerror}.") from None
    size = path.stat().st_size
    return _source(CountingReader(raw, label=label), size=size, label=label)


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def http_error_302(self, req, fp, code, msg, headers):  # noqa: ANN001 — urllib's signature
        target = urljoin(req.full_url, headers.get("Location") or headers.get("URI") or "")
        if urlparse(target).scheme not in URL_SCHEMES:
            raise ImportFailed(
                f"{req.full_url} redirects to {target}, which is not an http(s) URL; it cannot be imported."
            )
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _open_url(url: str) -> Source:
    cap = settings.CHLOPS_URL_IMPORT_MAX_BYTES
    timeout = settings.CHLOPS_URL_IMPORT_TIMEOUT
    too_large = (
        f"The file at {url} is larger than the URL import limit of {_size(cap)} (CHLOPS_URL_IMPORT_MAX_BYTES); "
        "raise the limit, or put the file in the import directory."
    )
    opener = urllib.request.build_opener(_HttpOnlyRedirects)
    request = urllib.request.Request(url, headers={"User-Agent": "chlops-import", "Accept-Encoding": "identity"})
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise ImportFailed(f"{url} answered {exc.code} {exc.reason}; check the URL and try again.") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise ImportFailed(f"{url} did not answer within {timeout} seconds (CHLOPS_URL_IMPORT_TIMEOUT).") from None
        raise ImportFailed(f"Could not reach {url}: {exc.reason}.") from None
    except TimeoutError:
        raise ImportFailed(f"{url} did not answer within {timeout} seconds (CHLOPS_URL_IMPORT_TIMEOUT).") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise ImportFailed(f"Could not fetch {url}: {exc}.") from None
    length = response.headers.get("Content-Length")
    size = int(length) if length and length.isdigit() else None
    if size is not None and size > cap:
        response.close()
        raise ImportFailed(too_large)
    label = f"the server at {url}"
    return _source(CountingReader(response, label=label, cap=cap, cap_message=too_large), size=size, label=label)


def _source(counter: CountingReader, *, size: int | None, label: str) -> Source:
    return Source(stream=io.BufferedReader(counter, READ_BUFFER), counter=counter, size=size, label=label)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MiB" if n >= 1024 * 1024 else f"{n:,} bytes"
