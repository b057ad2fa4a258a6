"""What one instance calls on another (`/api/sync/*`) and the peers API; parse, call one service, respond."""

from __future__ import annotations

from django.utils import timezone
from rest_framework.response import Response
from rest_framework.views import APIView

from chlops.identity import PROTOCOL, VERSION, identity_public
from indexes.models import Peer
from indexes.peers import services
from indexes.peers.selectors import peer_get, peer_json, peer_list
from indexes.peers.services import PeerUnknown
from operations.api.permissions import CanRunJobs, IsPeer, IsSuperuser
from operations.api.serializers import job_json

SOURCE = "api"


class IdentityView(APIView):
    """This instance's signing key, protocol and clock, for a peer's verify job."""

    permission_classes = [IsPeer]

    def get(self, request):
        identity = identity_public()
        return Response(
            {
                "protocol": PROTOCOL,
                "version": VERSION,
                "public_key": identity.public_key,
                "public_key_pem": identity.public_key_pem,
                "fingerprint": identity.fingerprint,
                "time": timezone.now().isoformat(),
            }
        )


# --- Peers (superusers; verifying is an operator's job too, DESIGN §7) ------------------------


def peer_or_404(name: str) -> Peer:
    peer = peer_get(name=name)
    if peer is None:
        raise PeerUnknown(f"There is no peer named {name}; GET /api/peers lists them.")
    return peer


class PeerListView(APIView):
    permission_classes = [IsSuperuser]

    def get(self, request):
        return Response({"results": [peer_json(peer) for peer in peer_list()]})

    def post(self, request):
        body = request.data
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("name", "base_url", "token")):
            return Response(
                {"error": 'Send a JSON object like {"name": "laptop", "base_url": "https://…", "token": "…"}.'},
                status=400,
            )
        saved = services.peer_add(
            name=body["name"], base_url=body["base_url"], token=body["token"], actor=request.user, source=SOURCE,
            own_urls=(request.build_absolute_uri("/"),),
        )  # fmt: skip
        return Response({**peer_json(saved.item), "job": job_json(saved.job) if saved.job else None}, status=201)


class PeerDetailView(APIView):
    permission_classes = [IsSuperuser]

    def get(self, request, name: str):
        return Response(peer_json(peer_or_404(name)))

    def delete(self, request, name: str):
        services.peer_remove(name=name, actor=request.user, source=SOURCE)
        return Response(status=204)


class PeerVerifyView(APIView):
    permission_classes = [CanRunJobs]

    def post(self, request, name: str):
        job = services.verify_start(peer=name, actor=request.user, source=SOURCE)
        return Response(job_json(job), status=201)
