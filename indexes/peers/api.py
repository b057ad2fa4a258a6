"""What one instance calls on another (`/api/sync/*`) and the peers API; parse, call one service, respond."""

from __future__ import annotations

from django.utils import timezone
from rest_framework.response import Response
from rest_framework.views import APIView

from chlops.identity import PROTOCOL, VERSION, identity_public
from operations.api.permissions import IsPeer


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
