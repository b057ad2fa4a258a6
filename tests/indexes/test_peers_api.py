"""`GET /api/sync/identity` (what a peer's verify job reads, for a Peers-group token) and `/api/peers`."""

from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditLog
from chlops.identity import PROTOCOL, identity_public
from indexes.models import Peer
from operations.models import Job
from tests.indexes.peer_factories import peer_account, token_client
from tests.sessions import browser_login, csrf_header

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


TOKEN = "api-planted-token-4e2a9c"


@pytest.mark.usefixtures("store")
class PeersApiTests:
    @pytest.fixture
    def store(self, settings, tmp_path):
        settings.CREDENTIALS_DIR = tmp_path / "credentials"

    def add(self, client, **body):
        body = {"name": "laptop", "base_url": "https://laptop.example.org", "token": TOKEN, **body}
        return client.post("/api/peers", json.dumps(body), content_type="application/json")

    def test_a_superuser_adds_lists_and_removes_a_peer(self, superuser):
        client = token_client(superuser)
        response = self.add(client)
        assert response.status_code == 201
        body = response.json()
        assert body["name"] == "laptop" and body["job"]["type"] == "verify" and body["job"]["params"] == {"peer": "laptop"}
        listed = client.get("/api/peers").json()["results"]
        assert [peer["name"] for peer in listed] == ["laptop"]
        assert TOKEN not in response.content.decode() + json.dumps(listed)
        assert client.delete("/api/peers/laptop").status_code == 204
        assert client.get("/api/peers/laptop").status_code == 404

    @pytest.mark.parametrize(
        ("body", "sentence"),
        [
            ({"base_url": "ftp://laptop.example.org"}, "give its base URL with http:// or https://"),
            ({"base_url": "http://testserver"}, "is this instance itself"),
            ({"token": ""}, "The token is empty"),
            ({"token": "   "}, "The token is empty"),
            ({"token": None}, "Send a JSON object like"),
            ({"name": "../../etc"}, "cannot name a peer"),
        ],
    )
    def test_bad_input_is_400_with_a_sentence(self, superuser, body, sentence):
        response = self.add(token_client(superuser), **body)
        assert response.status_code == 400
        assert sentence in response.json()["error"]
        assert not Peer.objects.exists()

    def test_a_duplicate_name_is_400(self, superuser):
        client = token_client(superuser)
        self.add(client)
        response = self.add(client, base_url="https://other.example.org")
        assert response.status_code == 400 and "A peer named laptop already exists" in response.json()["error"]

    def test_a_body_that_is_not_json_is_400(self, superuser):
        response = token_client(superuser).post("/api/peers", "name=laptop", content_type="application/json")
        assert response.status_code == 400 and "not valid JSON" in response.json()["error"]

    def test_operators_may_verify_but_not_see_or_change_peers(self, superuser, operator):
        self.add(token_client(superuser))
        Job.objects.update(state="succeeded")
        client = token_client(operator)
        assert client.get("/api/peers").status_code == 403
        assert self.add(client, name="other").status_code == 403
        assert client.delete("/api/peers/laptop").status_code == 403
        response = client.post("/api/peers/laptop/verify")
        assert response.status_code == 201 and response.json()["lock_key"] == "verify:peer:laptop"
        again = client.post("/api/peers/laptop/verify")
        assert again.status_code == 409 and "Already running" in again.json()["error"]

    def test_auditors_may_not_verify(self, superuser, auditor):
        self.add(token_client(superuser))
        assert token_client(auditor).post("/api/peers/laptop/verify").status_code == 403

    def test_verify_of_an_unknown_peer_is_404(self, operator):
        response = token_client(operator).post("/api/peers/ghost/verify")
        assert response.status_code == 404 and "There is no peer named ghost" in response.json()["error"]

    def test_a_session_needs_the_csrf_header(self, superuser):
        client = browser_login(superuser)
        assert self.add(client).status_code == 403
        body = json.dumps({"name": "laptop", "base_url": "https://laptop.example.org", "token": TOKEN})
        response = client.post("/api/peers", body, content_type="application/json", **csrf_header(client))
        assert response.status_code == 201
