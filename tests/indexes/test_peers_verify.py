"""The verify job's work against a stand-in peer: each way a peer can fail is a failure with its sentence."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from chlops.credentials import credential_write
from chlops.exceptions import ChlopsError
from indexes.models import Credential, Peer
from indexes.peers import services
from indexes.peers.verify import verify_run
from tests.conftest import free_port
from tests.indexes.index_factories import RunCtx
from tests.indexes.peer_servers import stand_in_peer

pytestmark = pytest.mark.django_db

TOKEN = "peer-token-5d0c7e1f"


@pytest.fixture(autouse=True)
def store(settings, tmp_path):
    settings.CREDENTIALS_DIR = tmp_path / "credentials"
    settings.CHLOPS_PEER_TIMEOUT = 0.5


@pytest.fixture
def stand_in():
    with stand_in_peer() as served:
        yield served


def peer_at(url: str, name: str = "laptop") -> Peer:
    services.peer_add(name=name, base_url=url, token=TOKEN, actor=None, source="cli")
    return Peer.objects.get(name=name)


def verify(name: str = "laptop") -> dict:
    return verify_run(RunCtx(), {"peer": name})


def failure(name: str = "laptop") -> str:
    with pytest.raises(ChlopsError) as caught:  # VerifyFailed, or the store's CredentialUnreadable
        verify(name)
    peer = Peer.objects.get(name=name)
    assert peer.last_ok is False and peer.last_result == caught.value.message
    assert peer.credential.last_ok is False and peer.credential.last_result == caught.value.message
    return caught.value.message


class PeerVerifyTests:
    def test_first_contact_records_the_key_and_the_next_finds_it_as_recorded(self, stand_in):
        url, peer_server = stand_in
        peer_at(f"{url}/ok")
        result = verify()
        peer = Peer.objects.get()
        assert peer.signing_key == peer_server.key and peer.signing_key_fingerprint == result["signing_key"]
        assert result["key_recorded"] is True and abs(result["skew_seconds"]) < 5
        assert "recorded on first contact" in peer.last_result and peer.last_ok is True
        assert Credential.objects.get().last_ok is True
        assert peer_server.tokens == [f"Bearer {TOKEN}"]
        assert AuditLog.objects.get(action="peer.key_recorded").details["fingerprint"] == result["signing_key"]
        again = verify()
        assert again["key_recorded"] is False and "as recorded" in again["message"]

    def test_a_changed_key_fails_and_keeps_the_recorded_one(self, stand_in):
        url, peer_server = stand_in
        peer = peer_at(f"{url}/ok")
        verify()
        Peer.objects.filter(pk=peer.pk).update(base_url=f"{url}/rekeyed")
        assert "signing key changed: recorded SHA256:" in failure()
        assert Peer.objects.get().signing_key == peer_server.key

    def test_a_refused_token_says_401(self, stand_in):
        peer_at(f"{stand_in[0]}/refuses")
        assert failure().startswith("The peer laptop answered 401: the token was refused.")

    def test_a_token_outside_the_peers_group_says_403(self, stand_in):
        peer_at(f"{stand_in[0]}/forbids")
        assert "answered 403: the token's user is not in the Peers group there" in failure()

    def test_a_peer_that_does_not_answer_in_time_fails_within_the_timeout(self, stand_in):
        peer_at(f"{stand_in[0]}/slow")
        assert "did not answer within 0.5 s" in failure()

    def test_a_peer_that_is_not_running_cannot_be_reached(self, stand_in):
        peer_at(f"http://127.0.0.1:{free_port()}")
        assert "Could not reach the peer laptop" in failure()

    def test_another_protocol_version_is_refused(self, stand_in):
        peer_at(f"{stand_in[0]}/future")
        assert "speaks sync protocol 2 (version 0.1); this instance speaks 1" in failure()

    @pytest.mark.parametrize(("case", "words"), [("skewed", "125 s ahead of"), ("behind", "90 s behind")])
    def test_a_clock_more_than_a_minute_off_is_refused(self, stand_in, case, words):
        peer_at(f"{stand_in[0]}/{case}")
        assert f"clock is {words} this one's (more than 60 s)" in failure()

    def test_the_date_header_serves_when_the_answer_has_no_time(self, stand_in):
        peer_at(f"{stand_in[0]}/dated")
        assert verify()["skew_seconds"] is not None

    def test_this_instance_itself_is_not_a_peer(self, stand_in):
        peer_at(f"{stand_in[0]}/mirror")
        assert "is this instance itself" in failure()

    def test_a_redirect_is_not_followed_with_the_token(self, stand_in):
        url, peer_server = stand_in
        peer_at(f"{url}/moved")
        assert "redirected to https://elsewhere.example.org/api/sync/identity" in failure()
        assert len(peer_server.tokens) == 1

    @pytest.mark.parametrize(("case", "words"), [("html", "is not JSON"), ("badkey", "not an Ed25519 key"), ("nothing", "answered 404")])
    def test_something_that_is_not_chl_ops_is_named_so(self, stand_in, case, words):
        peer_at(f"{stand_in[0]}/{case}")
        assert words in failure()

    def test_a_token_file_gone_fails_with_its_fix(self, stand_in, settings):
        peer_at(f"{stand_in[0]}/ok")
        (settings.CREDENTIALS_DIR / "peer-laptop").unlink()
        assert "is missing" in failure() and not stand_in[1].tokens


class CredentialVerifyTests:
    def test_a_git_token_on_disk_passes(self):
        services.credential_set(name="github", kind="git_token", secret=TOKEN, actor=None, source="cli")
        result = verify_run(RunCtx(), {"credential": "github"})
        assert "is on disk, readable" in result["message"] and TOKEN not in result["message"]
        assert Credential.objects.get().last_ok is True

    def test_a_token_changed_by_hand_fails_with_both_fingerprints(self):
        services.credential_set(name="github", kind="git_token", secret=TOKEN, actor=None, source="cli")
        credential_write("github", "edited-by-hand")
        with pytest.raises(ChlopsError, match="is not the one set on") as caught:
            verify_run(RunCtx(), {"credential": "github"})
        assert "edited-by-hand" not in caught.value.message
        assert Credential.objects.get().last_ok is False

    def test_a_token_deleted_by_hand_fails_with_a_sentence(self, settings):
        services.credential_set(name="github", kind="git_token", secret=TOKEN, actor=None, source="cli")
        (settings.CREDENTIALS_DIR / "github").unlink()
        with pytest.raises(ChlopsError, match="is missing .* set it again"):
            verify_run(RunCtx(), {"credential": "github"})
