"""Set and remove credentials, add and remove peers, queue their verification (DESIGN §12).

The secret goes to its file first (chlops.credentials), then its metadata to the database, so a row
never names a secret that is not on disk. Audit rows carry the fingerprint, never the secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from chlops.credentials import (
    CredentialInvalid,
    credential_delete,
    credential_name_check,
    credential_write,
    secret_clean,
)
from chlops.exceptions import ChlopsError
from indexes.models import Credential, CredentialKind, Peer
from indexes.peers.selectors import CREDENTIALS_CARD, PEERS_CARD, VERIFY, credential_verify_params
from operations import broadcasts
from operations import services as jobs
from operations.models import Job

PEER_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,58}")  # "peer-" + name is its token's credential
LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "::"}


class PeerInvalid(ChlopsError):
    pass


class PeerUnknown(ChlopsError):
    status = 404


class CredentialUnknown(ChlopsError):
    status = 404


class CredentialInUse(ChlopsError):
    status = 409


@dataclass(frozen=True)
class Saved:
    """What saving did: the row, and the verify job it queued (or why none was queued)."""

    item: Credential | Peer
    job: Job | None
    note: str




# --- Validation ---------------------------------------------------------------------------------


def peer_name_check(name: str) -> str:
    name = (name or "").strip()
    if not PEER_NAME.fullmatch(name):
        raise PeerInvalid(
            f"{name!r} cannot name a peer: use 1 to 59 lowercase letters, digits, '-', '_' or '.', "
            "starting with a letter or a digit."
        )
    return name


def _host_port(url: str) -> tuple[str, int] | None:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    return ("localhost" if host in LOOPBACK else host), port or (443 if parts.scheme == "https" else 80)


def peer_url_check(url: str, *, own_urls: tuple[str, ...] = ()) -> str:
    """The peer's base URL, normalised; refuse one that is not http(s) or that is this instance's own."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PeerInvalid(
            f"{url!r} is not a peer's address: give its base URL with http:// or https://, like https://kb.example.org."
        )
    if parts.username or parts.password:
        raise PeerInvalid("Put no user name or password in the peer's URL; its token goes in the token field.")
    if parts.query or parts.fragment:
        raise PeerInvalid("Give the peer's base URL only, without a ?query or a #fragment.")
    here = _host_port(url)
    if here is None:
        raise PeerInvalid(f"{url!r} has a port that is not a number from 1 to 65535.")
    if any(_host_port(own) == here for own in own_urls):
        raise PeerInvalid(f"{url} is this instance itself; a peer is another CHL Ops instance, at another address.")
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def _kind_check(kind: str) -> str:
    if kind not in CredentialKind.values:
        raise CredentialInvalid(f"{kind!r} is not a kind of credential; choose one of: {', '.join(CredentialKind.values)}.")
    return kind


# --- Credentials --------------------------------------------------------------------------------


def credential_set(*, name: str, kind: str, secret: str, actor: Any, source: str) -> Saved:
    """Store a secret (new or replacing one), record its metadata, and queue its verification."""
    name, kind, secret = credential_name_check(name), _kind_check(kind), secret_clean(secret)
    existing = Credential.objects.filter(name=name).prefetch_related("peers").first()
    if existing is not None and existing.kind != kind and existing.peers.exists():
        raise CredentialInvalid(f"{name} is the token of peer {existing.peers.first()}; it stays a peer token.")
    credential = _credential_store(name=name, kind=kind, secret=secret, actor=actor, source=source)
    job, note = verify_queue(params=credential_verify_params(credential), actor=actor, source=source)
    broadcasts.card_changed(CREDENTIALS_CARD)  # after the job exists: the card shows it queued, not "never"
    return Saved(credential, job, note)


def _credential_store(*, name: str, kind: str, secret: str, actor: Any, source: str) -> Credential:
    fingerprint = credential_write(name, secret)
    with transaction.atomic():
        credential, created = Credential.objects.update_or_create(
            name=name,
            defaults={
                "kind": kind,
                "fingerprint": fingerprint,
                "set_at": timezone.now(),
                "set_by": actor if getattr(actor, "is_authenticated", False) else None,
                "last_verified_at": None,
                "last_ok": None,
                "last_result": "",
            },
        )
        audit_record(
            action="credential.set",
            actor=actor,
            source=source,
            target=name,
            details={"kind": kind, "fingerprint": fingerprint, "replaced": not created},
        )
    return credential


def credential_remove(*, name: str, actor: Any, source: str) -> None:
    """Remove a credential that no peer uses: its row and its file."""
    credential = Credential.objects.filter(name=name).first()
    if credential is None:
        raise CredentialUnknown(f"There is no credential named {name}.")
    peer = credential.peers.first()
    if peer is not None:
        raise CredentialInUse(f"{name} is the token of peer {peer}; remove the peer instead.")
    with transaction.atomic():
        credential.delete()
        audit_record(
            action="credential.remove",
            actor=actor,
            source=source,
            target=name,
            details={"kind": credential.kind, "fingerprint": credential.fingerprint},
        )
    credential_delete(name)
    broadcasts.card_changed(CREDENTIALS_CARD)


# --- Peers --------------------------------------------------------------------------------------


def peer_add(
    *, name: str, base_url: str, token: str, actor: Any, source: str, own_urls: tuple[str, ...] = ()
) -> Saved:
    """Register a peer with the token this instance calls it with; queue the verification of the connection."""
    name = peer_name_check(name)
    base_url = peer_url_check(base_url, own_urls=own_urls)
    token = secret_clean(token)
    if Peer.objects.filter(name=name).exists():
        raise PeerInvalid(f"A peer named {name} already exists; choose another name, or remove it first.")
    credential_name = f"peer-{name}"
    if Credential.objects.filter(name=credential_name).exclude(kind=CredentialKind.PEER_TOKEN).exists():
        raise PeerInvalid(f"The credential {credential_name} is not a peer token; remove it or choose another peer name.")
    credential = _credential_store(
        name=credential_name, kind=CredentialKind.PEER_TOKEN, secret=token, actor=actor, source=source
    )
    try:
        with transaction.atomic():
            peer = Peer.objects.create(
                name=name,
                base_url=base_url,
                credential=credential,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            audit_record(
                action="peer.add",
                actor=actor,
                source=source,
                target=name,
                details={"url": base_url, "credential": credential.name, "fingerprint": credential.fingerprint},
            )
    except IntegrityError:
        raise PeerInvalid(f"A peer named {name} already exists; choose another name, or remove it first.") from None
    job, note = verify_queue(params={"peer": name}, actor=actor, source=source)
    broadcasts.card_changed(PEERS_CARD)
    broadcasts.card_changed(CREDENTIALS_CARD)
    return Saved(peer, job, note)


def peer_remove(*, name: str, actor: Any, source: str) -> None:
    """Forget a peer and its token (row and file); what was synced with it stays."""
    peer = Peer.objects.select_related("credential").filter(name=name).first()
    if peer is None:
        raise PeerUnknown(f"There is no peer named {name}.")
    credential = peer.credential
    with transaction.atomic():
        peer.delete()
        audit_record(
            action="peer.remove",
            actor=actor,
            source=source,
            target=name,
            details={"url": peer.base_url, "credential": credential.name, "fingerprint": credential.fingerprint},
        )
        orphan = not credential.peers.exists()
        if orphan:
            credential.delete()
            audit_record(
                action="credential.remove",
                actor=actor,
                source=source,
                target=credential.name,
                details={"kind": credential.kind, "fingerprint": credential.fingerprint, "with_peer": name},
            )
    if orphan:
        credential_delete(credential.name)
    broadcasts.card_changed(PEERS_CARD)
    broadcasts.card_changed(CREDENTIALS_CARD)


# --- Verification -------------------------------------------------------------------------------


def verify_start(*, peer: str | None = None, credential: str | None = None, actor: Any, source: str) -> Job:
    """Start the verify job of a peer, or of a credential (a peer's token through its peer)."""
    if peer is not None:
        if not Peer.objects.filter(name=peer).exists():
            raise PeerUnknown(f"There is no peer named {peer}.")
        params = {"peer": peer}
    else:
        found = Credential.objects.prefetch_related("peers").filter(name=credential or "").first()
        if found is None:
            raise CredentialUnknown(f"There is no credential named {credential}.")
        params = credential_verify_params(found)
    return jobs.job_start(type=VERIFY, params=params, actor=actor, source=source)


def verify_queue(*, params: dict[str, str], actor: Any, source: str) -> tuple[Job | None, str]:
    """Queue a verification after a save; a save never fails because its verification could not start."""
    try:
        job = jobs.job_start(type=VERIFY, params=params, actor=actor, source=source)
    except jobs.LockHeld as exc:
        return exc.conflict, f"is saved; {exc.conflict} is already verifying it."
    except ChlopsError as exc:
        return None, f"is saved, but its verification did not start: {exc.message}"
    return job, f"is saved; {job} verifies it in the background."
