"""Read credentials and peers: metadata only (the secrets stay in chlops.credentials)."""

from __future__ import annotations

from django.db.models import QuerySet

from indexes.models import Credential, Peer

CREDENTIALS_CARD = "credentials-card"
PEERS_CARD = "peers-card"
VERIFY = "verify"


def verify_lock(params: dict) -> str:
    """The verify job's lock key, one per target: `verify:peer:<name>` or `verify:credential:<name>`."""
    return f"{VERIFY}:{verify_target(params)}"


def verify_target(params: dict) -> str:
    return f"peer:{params['peer']}" if params.get("peer") else f"credential:{params['credential']}"


def credential_list() -> QuerySet[Credential]:
    return Credential.objects.select_related("set_by").prefetch_related("peers").order_by("name")


def peer_list() -> QuerySet[Peer]:
    return Peer.objects.select_related("credential", "created_by").order_by("name")


def peer_get(*, name: str) -> Peer | None:
    return Peer.objects.select_related("credential").filter(name=name).first()


def credential_get(*, name: str) -> Credential | None:
    return Credential.objects.filter(name=name).first()


def credential_verify_params(credential: Credential) -> dict[str, str]:
    """What verifying a credential means: a peer's token is verified through its peer."""
    peer = next(iter(credential.peers.all()), None)  # by name; prefetched by credential_list
    return {"peer": peer.name} if peer is not None else {"credential": credential.name}


def peer_json(peer: Peer) -> dict:
    """A peer as `peers list --json` and the API show it: metadata and fingerprints, never its token."""
    return {
        "name": peer.name,
        "base_url": peer.base_url,
        "enabled": peer.enabled,
        "credential": peer.credential.name,
        "token_fingerprint": peer.credential.fingerprint,
        "signing_key_fingerprint": peer.signing_key_fingerprint or None,
        "signing_key_recorded_at": peer.signing_key_recorded_at,
        "last_verified_at": peer.last_verified_at,
        "last_ok": peer.last_ok,
        "last_result": peer.last_result,
        "created_at": peer.created_at,
    }
