"""Check what an ingest may clone: a git URL of an allowed scheme, or a repository inside CHLOPS_INGEST_ROOTS."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings

from indexes.ingest.errors import IngestFailed

SCHEMES = ("https", "http", "ssh", "git")
# user@host:path, the scp-like form git accepts for ssh; the host must start with a letter or digit.
SCP_LIKE = re.compile(r"^(?:(?P<user>[A-Za-z0-9._-]+)@)?(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*):(?!//)(?P<path>.+)$")
# <transport>::<address>, git's remote-helper syntax (ext:: runs commands): never a repository here.
REMOTE_HELPER = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)::")
REF = re.compile(r"^[A-Za-z0-9._/+-]+$")
MAX_ORIGIN = 512
MAX_LOCK_KEY = 128


@dataclass(frozen=True)
class Repository:
    """Where to clone from, and the repository's name without credentials (the entries' origin)."""

    clone_url: str
    name: str
    local: bool = False

    @property
    def lock_key(self) -> str:
        key = f"ingest:{self.name}"
        return key if len(key) <= MAX_LOCK_KEY else f"ingest:{hashlib.sha256(self.name.encode()).hexdigest()}"


def repository_check(*, url: str) -> Repository:
    """Return the repository a URL or path names, or raise IngestFailed with a sentence."""
    url = url.strip()
    if not url:
        raise IngestFailed("Give a git repository URL, or a local path inside CHLOPS_INGEST_ROOTS.")
    if any(ch in url for ch in "\x00\r\n\t"):
        raise IngestFailed("The URL contains control characters; paste it again.")
    if url.startswith("/"):
        return _local(url)
    helper = REMOTE_HELPER.match(url)
    if helper:
        raise IngestFailed(_scheme_refused(helper["scheme"]))
    scp = SCP_LIKE.match(url)
    if scp and "://" not in url:
        return _remote(f"ssh://{scp['user'] + '@' if scp['user'] else ''}{scp['host']}/{scp['path'].lstrip('/')}", url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise IngestFailed("A file:// URL must name a local path, like file:///srv/repos/docs.")
        return _local(unquote(parts.path))
    if scheme not in SCHEMES:
        raise IngestFailed(_scheme_refused(scheme or url))
    return _remote(url, url)


def _scheme_refused(scheme: str) -> str:
    return f"The scheme {scheme!r} is not allowed; use https, http, ssh or git, or a local path inside CHLOPS_INGEST_ROOTS."


def ref_check(*, ref: str) -> str:
    """Return a branch, tag or commit name that is safe to hand to git, or raise IngestFailed."""
    ref = ref.strip()
    if len(ref) > 255 or not REF.match(ref) or ref.startswith(("-", "/")) or ".." in ref or ref.endswith((".", "/")):
        raise IngestFailed(
            "The ref must be a branch, tag or commit name made of letters, digits and . _ / + -, "
            "not starting with - or containing '..'."
        )
    return ref


def _remote(url: str, given: str) -> Repository:
    parts = urlsplit(url)
    if parts.password is not None:
        raise IngestFailed(
            "Remove the password from the URL: it would be kept in the job's parameters and the audit log. "
            "Ingest reads public repositories, or private ones over ssh with the worker's deploy key."
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise IngestFailed(f"The URL {given!r} has no host; write it like https://example.org/team/repo.git.")
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        raise IngestFailed(f"The port in {given!r} is not a number from 1 to 65535.") from None
    path = parts.path.rstrip("/")
    if path.endswith(".git"):
        path = path[:-4]
    if not path.strip("/"):
        raise IngestFailed(f"The URL {given!r} names a host but no repository; add the repository's path.")
    name = f"{parts.scheme.lower()}://{host}{port}{path}"
    if len(name) > MAX_ORIGIN:
        raise IngestFailed(f"The URL is longer than {MAX_ORIGIN} characters.")
    return Repository(clone_url=url, name=name)


def _local(raw: str) -> Repository:
    roots = [Path(root).resolve() for root in settings.CHLOPS_INGEST_ROOTS]
    if not roots:
        raise IngestFailed(
            "Local paths cannot be ingested here: no directory is allowed (CHLOPS_INGEST_ROOTS is empty). "
            "Give a git URL, or ask an administrator to set CHLOPS_INGEST_ROOTS."
        )
    path = Path(raw).resolve()
    if not any(path == root or path.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(root) for root in roots)
        raise IngestFailed(f"{path} is outside the directories that may be ingested ({allowed}).")
    if not path.is_dir():
        raise IngestFailed(f"There is no directory at {path}.")
    if not ((path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())):
        raise IngestFailed(f"{path} is not a git repository (it has no .git); give the top directory of a repository.")
    git_dir = _git_dir(path)
    if not any(git_dir == root or git_dir.is_relative_to(root) for root in roots):
        # A .git symlink or "gitdir:" file would make the clone read a repository outside the roots.
        raise IngestFailed(f"The git data of {path} lies in {git_dir}, outside the directories that may be ingested.")
    name = f"file://{path}"
    if len(name) > MAX_ORIGIN:
        raise IngestFailed(f"The path is longer than {MAX_ORIGIN - 7} characters.")
    return Repository(clone_url=name, name=name, local=True)


def _git_dir(path: Path) -> Path:
    dot_git = path / ".git"
    if dot_git.is_file() and not dot_git.is_symlink():
        first = dot_git.read_text(errors="replace").partition("\n")[0]
        if first.startswith("gitdir:"):
            return (path / first.removeprefix("gitdir:").strip()).resolve()
    return dot_git.resolve() if dot_git.exists() else path
