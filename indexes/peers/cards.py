"""The Settings page and its cards: credentials and peers, each row with its verify tile (operations.tiles)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from indexes.models import Credential, Peer
from indexes.peers.selectors import CREDENTIALS_CARD, PEERS_CARD, VERIFY, credential_list, peer_list, verify_target
from operations.access import SUPERUSER
from operations.cards import Card, Page
from operations.tiles import Tile, tiles_with_jobs

PAGE = Page(name="settings", title="Settings", url_name="settings:page", order=40, perm=SUPERUSER)
TEMPLATE = "indexes/settings_cards.html"


@dataclass(frozen=True)
class Row:
    item: Credential | Peer
    tile: Tile


def verify_tile(params: dict[str, str], *, subject: str, label: str, url: str) -> Tile:
    return Tile(action=VERIFY, target=verify_target(params), label=label, subject=subject, url=url, done_word="verified")


def credentials_card_context() -> dict[str, Any]:
    credentials = list(credential_list())
    tiles = []
    for credential in credentials:
        peer = next(iter(credential.peers.all()), None)  # a peer's token is verified through its peer
        params = {"peer": peer.name} if peer else {"credential": credential.name}
        url = reverse("settings:credential-verify", args=[credential.name])
        tiles.append(verify_tile(params, subject=credential.name, label="Verify", url=url))
    rows = [Row(credential, tile) for credential, tile in zip(credentials, tiles_with_jobs(tiles), strict=True)]
    return {"rows": rows}


def peers_card_context() -> dict[str, Any]:
    peers = list(peer_list())
    tiles = [
        verify_tile(
            {"peer": peer.name},
            subject=peer.name,
            label="Verify connection",
            url=reverse("settings:peer-verify", args=[peer.name]),
        )
        for peer in peers
    ]
    return {"rows": [Row(p, t) for p, t in zip(peers, tiles_with_jobs(tiles), strict=True)]}


CREDENTIALS = Card(
    name=CREDENTIALS_CARD, template=TEMPLATE, context=credentials_card_context, order=10, wide=True, page=PAGE.name, jobs=(VERIFY,)
)
PEERS = Card(name=PEERS_CARD, template=TEMPLATE, context=peers_card_context, order=20, wide=True, page=PAGE.name, jobs=(VERIFY,))
CARDS = (CREDENTIALS, PEERS)
