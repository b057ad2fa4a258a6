"""Secrets on disk (DESIGN §12): one file per secret under CREDENTIALS_DIR, mode 0600, replaced atomically.

Only this module reads or writes a secret. The database keeps its metadata and a fingerprint (a short
SHA-256), which is all that a page, a log line, an audit row or a job's parameters ever carry.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from contextlib import suppress
from pathlib import Path

from django.conf import settings

from chlops.exceptions import ChlopsError
from chlops.fileio import fsync_path

NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
MAX_SECRET_CHARS = 4096
FINGERPRINT_CHARS = 16


class CredentialInvalid(ChlopsError):
    """A name or a secret that cannot be stored; the message says what to type instead."""


class CredentialUnreadable(ChlopsError):
    """The file of a secret is missing or cannot be read."""

    exit_code = 1


def credential_name_check(name: str) -> str:
    """Return `name` if it can name a credential's file, else raise CredentialInvalid."""
    name = (name or "").strip()
    if not NAME.fullmatch(name):
        raise CredentialInvalid(
            f"{name!r} cannot name a credential: use 1 to 64 lowercase letters, digits, '-', '_' or '.', "
            "starting with a letter or a digit."
        )
    return name


def secret_clean(secret: str | None) -> str:
    """The secret without surrounding whitespace (a pasted line's newline); refuse an empty or unusable one."""
    secret = (secret or "").strip()
    if not secret:
        raise CredentialInvalid("The token is empty; paste the token itself (it is stored once and never shown again).")
    if len(secret) > MAX_SECRET_CHARS:
        raise CredentialInvalid(f"The token is longer than {MAX_SECRET_CHARS} characters; paste only the token.")
    if any(ord(char) < 32 or ord(char) == 127 for char in secret):
        raise CredentialInvalid("The token contains a line break or a control character; paste it on one line.")
    return secret


def secret_fingerprint(secret: str) -> str:
    """A short SHA-256 of the secret: enough to tell two secrets apart, never enough to use one."""
    return hashlib.sha256(secret.encode()).hexdigest()[:FINGERPRINT_CHARS]


def credential_path(name: str) -> Path:
    return Path(settings.CREDENTIALS_DIR) / credential_name_check(name)


def credential_write(name: str, secret: str) -> str:
    """Store `secret` as credential `name`, replacing any before it in one rename; return its fingerprint."""
    path = credential_path(name)
    secret = secret_clean(secret)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp creates the file with mode 0600; names of credentials never start with ".", so no clash.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_path(path.parent)
    return secret_fingerprint(secret)


def credential_read(name: str) -> str:
    """The secret of credential `name`; raise CredentialUnreadable with the reason and the fix.

    The error's `extra` holds them apart (`problem`, `fix`), for a diagnostic that shows each on its own.
    """
    path = credential_path(name)
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise _unreadable(
            f"The secret of credential {name} is missing ({path} does not exist)", "set it again on the Settings page."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc.__class__.__name__
        raise _unreadable(
            f"The secret of credential {name} cannot be read ({path}: {reason})",
            "make it readable by the user running CHL Ops, or set it again on the Settings page.",
        ) from None
    if not secret:
        raise _unreadable(f"The secret of credential {name} is empty ({path})", "set it again on the Settings page.")
    return secret


def _unreadable(problem: str, fix: str) -> CredentialUnreadable:
    return CredentialUnreadable(f"{problem}; {fix}", problem=f"{problem}.", fix=fix[0].upper() + fix[1:])


def credential_delete(name: str) -> None:
    """Remove credential `name`'s file, if there is one."""
    path = credential_path(name)
    with suppress(FileNotFoundError):
        path.unlink()
        fsync_path(path.parent)
