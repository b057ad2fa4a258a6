"""`GET /api/sync/identity`: what a peer's verify job reads, for a Peers-group token only."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditLog
from chlops.identity import PROTOCOL, identity_public
from tests.indexes.peer_factories import peer_account, token_client
from tests.sessions import browser_login

pytestmark = pytest.mark.django_db

IDENTITY = "/api/sync/identity"


class IdentityTests:
    def test_a_peer_token_gets_the_key_the_protocol_and_the_time(self):
        response = token_client(peer_account()).get(IDENTITY)
        assert response.status_code == 200
        body = response.json()
        mine = identity_public()
        assert body["public_key"] == mine.public_key and len(base64.b64decode(body["public_key"])) == 32
        assert body["fingerprint"] == mine.fingerprint
        assert body["public_key_pem"] == mine.public_key_pem
        assert body["protocol"] == PROTOCOL and body["version"]
        assert abs((datetime.fromisoformat(body["time"]) - timezone.now()).total_seconds()) < 5

    def test_an_operators_token_is_refused_and_the_refusal_audited(self, operator):
        response = token_client(operator).get(IDENTITY)
        assert response.status_code == 403
        assert "error" in response.json()
        denied = AuditLog.objects.filter(action="permission.denied", actor=operator).last()
        assert denied is not None and denied.target == IDENTITY

    def test_nobody_gets_401_with_a_sentence(self):
        response = Client().get(IDENTITY)
        assert response.status_code == 401
        assert "Bearer" in response.json()["error"]

    def test_a_superusers_session_may_read_it(self, superuser):
        assert browser_login(superuser).get(IDENTITY).status_code == 200

    def test_an_inactive_peer_account_is_refused(self):
        account = peer_account()
        client = token_client(account)
        account.is_active = False
        account.save()
        assert client.get(IDENTITY).status_code == 401
