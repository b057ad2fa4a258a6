"""This instance's identity (DESIGN §12): an Ed25519 signing key generated once into the data dir."""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

# What one instance must share with another to exchange bundles; a peer speaking another is refused.
PROTOCOL = 1
# The application's version, shown to peers and in the identity answer for the operator's eyes.
VERSION = "0.1"


@dataclass(frozen=True)
class PublicIdentity:
    public_key: str  # the raw 32 bytes, base64
    public_key_pem: str
    fingerprint: str


def key_fingerprint(public_key_b64: str) -> str:
    """SHA256:<base64> of the raw public key, as OpenSSH shows keys, for an operator to compare by eye."""
    raw = base64.b64decode(public_key_b64)
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def identity_key() -> Ed25519PrivateKey:
    """The signing key, created once (mode 0600) by whichever process asks first."""
    path = Path(settings.IDENTITY_KEY_PATH)
    if not path.exists():
        _identity_create(path)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _identity_create(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".signing-key-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        # link() fails if another process won the race; its key is then this instance's key.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


def identity_public() -> PublicIdentity:
    public = identity_key().public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b64encode(raw).decode()
    return PublicIdentity(public_key=encoded, public_key_pem=pem.decode(), fingerprint=key_fingerprint(encoded))
