"""The `verify` job: call a peer's `/api/sync/identity` with its token, or check a credential's file.

A peer passes when it answers in time, accepts the token, speaks this protocol, keeps a clock within
CHLOPS_PEER_MAX_SKEW_SECONDS of this one, and signs with the key recorded for it (recorded now, on
first contact). Every failure is the job's failure, with a sentence; either way the outcome is kept on
the peer and its credential for the Settings page.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from audit.services import audit_record
from chlops.credentials import credential_read, secret_fingerprint
from chlops.exceptions import ChlopsError
from chlops.identity import PROTOCOL, identity_public, key_fingerprint
from indexes.models import Credential, Peer

IDENTITY_PATH = "/api/sync/identity"
MAX_ANSWER_BYTES = 64 * 1024


class VerifyFailed(ChlopsError):
    exit_code = 1


@dataclass(frozen=True)
class Identity:
    """A peer's answer, with this side's clock around the call."""

    protocol: Any
    version: str
    public_key: str
    time: datetime | None
    sent_at: float
    received_at: float

    @property
    def skew_seconds(self) -> float | None:
        """How far the peer's clock is ahead of ours (negative: behind), against the middle of the call."""
        if self.time is None:
            return None
        return self.time.timestamp() - (self.sent_at + self.received_at) / 2


def verify_run(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("peer"):
        return peer_verify(ctx, name=params["peer"])
    return credential_verify(ctx, name=params["credential"])


# --- A peer -------------------------------------------------------------------------------------


def peer_verify(ctx: Any, *, name: str) -> dict[str, Any]:
    peer = Peer.objects.select_related("credential").filter(name=name).first()
    if peer is None:
        raise VerifyFailed(f"There is no peer named {name} any more; it was removed.")
    ctx.progress(0, None, phase="calling the peer")
    try:
        identity = identity_fetch(peer, token=credential_read(peer.credential.name))
        ctx.checkpoint()
        ctx.progress(1, None, phase="checking its answer")
        recorded = identity_check(peer, identity)
    except ChlopsError as exc:
        outcome_record(peer=peer, ok=False, message=exc.message)
        raise
    fingerprint = key_fingerprint(identity.public_key)
    skew = identity.skew_seconds
    message = f"Verified {peer.base_url}: protocol {identity.protocol}, version {identity.version}"
    message += f", clock {abs(skew):.1f} s {'ahead' if skew >= 0 else 'behind'}" if skew is not None else ""
    message += f"; signing key {fingerprint}" + (" recorded on first contact — compare it with the peer's Settings page." if recorded else " as recorded.")
    if recorded:
        _key_record(ctx, peer, identity.public_key, fingerprint)
    outcome_record(peer=peer, ok=True, message=message)
    return {
        "peer": peer.name,
        "url": peer.base_url,
        "protocol": identity.protocol,
        "version": identity.version,
        "skew_seconds": None if skew is None else round(skew, 3),
        "signing_key": fingerprint,
        "key_recorded": recorded,
        "message": message,
    }


def identity_fetch(peer: Peer, *, token: str) -> Identity:
    """GET the peer's identity with the token; raise VerifyFailed saying what went wrong."""
    url = peer.base_url.rstrip("/") + IDENTITY_PATH
    timeout = settings.CHLOPS_PEER_TIMEOUT
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": "chlops-verify"}
    )
    opener = urllib.request.build_opener(_NoRedirects)
    sent_at = time.time()
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(MAX_ANSWER_BYTES + 1)
            date = response.headers.get("Date")
    except urllib.error.HTTPError as exc:
        raise VerifyFailed(_refusal(peer, exc.code, exc.headers.get("Location"))) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise VerifyFailed(_too_slow(peer, timeout)) from None
        raise VerifyFailed(f"Could not reach the peer {peer.name} at {peer.base_url}: {_reason(exc.reason)}.") from None
    except TimeoutError:
        raise VerifyFailed(_too_slow(peer, timeout)) from None
    except OSError as exc:
        raise VerifyFailed(f"Could not reach the peer {peer.name} at {peer.base_url}: {_reason(exc)}.") from None
    return _identity_parse(peer, body, date=date, sent_at=sent_at, received_at=time.time())


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is refused: the token must not follow it to another address."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001 — urllib's signature
        return None


def _refusal(peer: Peer, code: int, location: str | None) -> str:
    if code == 401:
        return (
            f"The peer {peer.name} answered 401: the token was refused. Ask its administrator for a token of a user "
            "in its Peers group and set it again."
        )
    if code == 403:
        return f"The peer {peer.name} answered 403: the token's user is not in the Peers group there; ask its administrator to add it."
    if code == 404:
        return f"The peer {peer.name} answered 404 at {IDENTITY_PATH}: {peer.base_url} does not look like a CHL Ops instance; check the URL."
    if 300 <= code < 400:
        return f"The peer {peer.name} redirected to {location or 'another address'}; register the address it redirects to instead."
    return f"The peer {peer.name} answered HTTP {code} at {IDENTITY_PATH}; try again later, or look at its logs."


def _too_slow(peer: Peer, timeout: float) -> str:
    return (
        f"The peer {peer.name} did not answer within {timeout:g} s ({peer.base_url}); check that it is running and "
        "that this instance can reach it (CHLOPS_PEER_TIMEOUT sets the wait)."
    )


def _reason(reason: object) -> str:
    return getattr(reason, "strerror", None) or str(reason) or reason.__class__.__name__


def _identity_parse(peer: Peer, body: bytes, *, date: str | None, sent_at: float, received_at: float) -> Identity:
    not_chlops = f"The peer {peer.name} did not answer as a CHL Ops instance at {peer.base_url}{IDENTITY_PATH}"
    if len(body) > MAX_ANSWER_BYTES:
        raise VerifyFailed(f"{not_chlops}: its answer is larger than {MAX_ANSWER_BYTES // 1024} KiB.")
    try:
        data = json.loads(body)
    except ValueError:
        raise VerifyFailed(f"{not_chlops}: its answer is not JSON.") from None
    if not isinstance(data, dict) or "protocol" not in data or not isinstance(data.get("public_key"), str):
        raise VerifyFailed(f"{not_chlops}: its answer has no protocol and public key.")
    try:
        if len(base64.b64decode(data["public_key"], validate=True)) != 32:
            raise ValueError
    except (ValueError, binascii.Error):
        raise VerifyFailed(f"{not_chlops}: its public key is not an Ed25519 key.") from None
    return Identity(
        protocol=data["protocol"],
        version=str(data.get("version", "unknown"))[:32],
        public_key=data["public_key"],
        time=_peer_time(data.get("time"), date),
        sent_at=sent_at,
        received_at=received_at,
    )


def _peer_time(stated: object, date_header: str | None) -> datetime | None:
    """The peer's clock: its identity's `time`, else its Date header (to the second)."""
    for parse, value in ((datetime.fromisoformat, stated), (parsedate_to_datetime, date_header)):
        if isinstance(value, str):
            try:
                moment = parse(value)
            except (TypeError, ValueError):
                continue
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def identity_check(peer: Peer, identity: Identity) -> bool:
    """Refuse another protocol, a clock too far off, this instance's own key or a changed key; say
    whether the key is to be recorded now (first contact)."""
    if identity.protocol != PROTOCOL:
        raise VerifyFailed(
            f"The peer {peer.name} speaks sync protocol {identity.protocol!r} (version {identity.version}); this "
            f"instance speaks {PROTOCOL}. Upgrade the older of the two."
        )
    skew, limit = identity.skew_seconds, settings.CHLOPS_PEER_MAX_SKEW_SECONDS
    if skew is None:
        raise VerifyFailed(f"The peer {peer.name} did not say what time it is; its clock cannot be compared.")
    if abs(skew) > limit:
        raise VerifyFailed(
            f"The peer {peer.name}'s clock is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} this one's "
            f"(more than {limit} s): set both clocks by NTP."
        )
    if identity.public_key == identity_public().public_key:
        raise VerifyFailed(
            f"{peer.base_url} is this instance itself (it answered with this instance's own signing key); "
            "a peer is another CHL Ops instance."
        )
    if peer.signing_key and peer.signing_key != identity.public_key:
        raise VerifyFailed(
            f"The peer {peer.name}'s signing key changed: recorded {peer.signing_key_fingerprint}, now "
            f"{key_fingerprint(identity.public_key)}. If it was reinstalled, remove the peer and add it again; "
            f"otherwise another server answers at {peer.base_url}."
        )
    return not peer.signing_key


def _key_record(ctx: Any, peer: Peer, public_key: str, fingerprint: str) -> None:
    # Only where none is recorded yet: two verifications racing record one key, never replace it.
    recorded = Peer.objects.filter(pk=peer.pk, signing_key="").update(
        signing_key=public_key, signing_key_fingerprint=fingerprint, signing_key_recorded_at=timezone.now()
    )
    if recorded:
        audit_record(
            action="peer.key_recorded",
            actor=ctx.job.requested_by,
            source=ctx.job.source,
            target=peer.name,
            details={"fingerprint": fingerprint, "url": peer.base_url},
            correlation_id=ctx.correlation_id,
        )


def outcome_record(*, peer: Peer | None = None, credential: Credential | None = None, ok: bool, message: str) -> None:
    """Keep the last verification's outcome on the peer and on its token's credential."""
    fields = {"last_verified_at": timezone.now(), "last_ok": ok, "last_result": message}
    if peer is not None:
        Peer.objects.filter(pk=peer.pk).update(**fields)
        credential = peer.credential
    if credential is not None:
        Credential.objects.filter(pk=credential.pk).update(**fields)


# --- A credential that is no peer's token -------------------------------------------------------


def credential_verify(ctx: Any, *, name: str) -> dict[str, Any]:
    credential = Credential.objects.filter(name=name).first()
    if credential is None:
        raise VerifyFailed(f"There is no credential named {name} any more; it was removed.")
    peer = credential.peers.first()
    if peer is not None:  # a peer's token is verified by calling its peer
        return peer_verify(ctx, name=peer.name)
    ctx.progress(0, None, phase="reading the secret")
    try:
        secret = credential_read(credential.name)
        if secret_fingerprint(secret) != credential.fingerprint:
            raise VerifyFailed(
                f"The secret of credential {name} on disk is not the one set on {credential.set_at:%Y-%m-%d %H:%M} "
                f"(fingerprint {secret_fingerprint(secret)}, not {credential.fingerprint}); set it again on the Settings page."
            )
    except ChlopsError as exc:
        outcome_record(credential=credential, ok=False, message=exc.message)
        raise
    message = f"The secret of {name} is on disk, readable, and the one set on {credential.set_at:%Y-%m-%d %H:%M} (fingerprint {credential.fingerprint})."
    outcome_record(credential=credential, ok=True, message=message)
    return {"credential": name, "fingerprint": credential.fingerprint, "message": message}
