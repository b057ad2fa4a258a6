"""Credentials and peers: what saving writes, what it refuses with a sentence, and where the secret never goes."""

from __future__ import annotations

import io
import logging
import os

import pytest
from django.core.management import call_command

from audit.models import AuditLog
from chlops.credentials import CredentialInvalid, credential_read, secret_fingerprint
from indexes.models import Credential, CredentialKind, Peer
from indexes.peers import services
from indexes.peers.services import CredentialInUse, PeerInvalid, PeerUnknown
from operations.models import Job, JobState

pytestmark = pytest.mark.django_db

SECRET = "planted-secret-7c1e9b0d42"


@pytest.fixture(autouse=True)
def store(settings, tmp_path):
    settings.CREDENTIALS_DIR = tmp_path / "credentials"
    return settings.CREDENTIALS_DIR


def add_peer(name: str = "laptop", url: str = "https://laptop.example.org", token: str = SECRET, **kwargs):
    return services.peer_add(name=name, base_url=url, token=token, actor=None, source="cli", **kwargs)


class CredentialSetTests:
    def test_saving_writes_the_file_records_metadata_and_queues_a_verify_job(self, store, superuser):
        saved = services.credential_set(name="github", kind="git_token", secret=SECRET, actor=superuser, source="web")
        credential = Credential.objects.get(name="github")
        assert (credential.kind, credential.fingerprint, credential.set_by) == ("git_token", secret_fingerprint(SECRET), superuser)
        assert credential_read("github") == SECRET
        assert saved.job.type == "verify" and saved.job.params == {"credential": "github"}
        assert saved.job.lock_key == "verify:credential:github" and saved.job.state == JobState.QUEUED
        assert "verifies it in the background" in saved.note
        row = AuditLog.objects.get(action="credential.set")
        assert row.details == {"kind": "git_token", "fingerprint": credential.fingerprint, "replaced": False}

    def test_replacing_while_a_verification_is_queued_keeps_that_one(self, superuser):
        first = services.credential_set(name="github", kind="git_token", secret="one-token", actor=superuser, source="web")
        again = services.credential_set(name="github", kind="git_token", secret=SECRET, actor=superuser, source="web")
        assert again.job == first.job and "already verifying it" in again.note
        assert Credential.objects.get().fingerprint == secret_fingerprint(SECRET)
        assert AuditLog.objects.filter(action="credential.set").order_by("id").last().details["replaced"] is True

    def test_a_new_secret_clears_the_last_verification(self, superuser):
        services.credential_set(name="github", kind="git_token", secret="one-token", actor=superuser, source="web")
        Credential.objects.update(last_ok=True, last_result="fine")
        Job.objects.update(state=JobState.SUCCEEDED)
        services.credential_set(name="github", kind="git_token", secret=SECRET, actor=superuser, source="web")
        assert Credential.objects.values_list("last_ok", "last_result").get() == (None, "")

    @pytest.mark.parametrize("secret", ["", "  ", "\n"])
    def test_an_empty_or_whitespace_token_is_refused_and_nothing_is_stored(self, secret, store):
        with pytest.raises(CredentialInvalid, match="The token is empty") as caught:
            services.credential_set(name="github", kind="git_token", secret=secret, actor=None, source="cli")
        assert caught.value.status == 400
        assert not Credential.objects.exists() and not Job.objects.exists()

    def test_an_unknown_kind_is_refused(self):
        with pytest.raises(CredentialInvalid, match="not a kind of credential"):
            services.credential_set(name="github", kind="ssh_key", secret=SECRET, actor=None, source="cli")

    def test_removing_deletes_row_and_file_and_audits_the_fingerprint(self, store):
        services.credential_set(name="github", kind="git_token", secret=SECRET, actor=None, source="cli")
        services.credential_remove(name="github", actor=None, source="cli")
        assert not Credential.objects.exists() and not (store / "github").exists()
        assert AuditLog.objects.get(action="credential.remove").details["fingerprint"] == secret_fingerprint(SECRET)

    def test_a_peers_token_is_removed_with_its_peer_only(self):
        add_peer()
        with pytest.raises(CredentialInUse, match="token of peer laptop; remove the peer instead"):
            services.credential_remove(name="peer-laptop", actor=None, source="cli")


class PeerAddTests:
    def test_a_peer_gets_its_token_as_a_credential_and_a_verify_job(self, store):
        saved = add_peer(url="HTTPS://Laptop.Example.org:8443/kb/")
        peer = Peer.objects.get()
        assert peer.base_url == "https://laptop.example.org:8443/kb"
        assert (peer.credential.name, peer.credential.kind) == ("peer-laptop", CredentialKind.PEER_TOKEN)
        assert (store / "peer-laptop").read_text() == SECRET
        assert saved.job.params == {"peer": "laptop"} and saved.job.lock_key == "verify:peer:laptop"
        assert [row.action for row in AuditLog.objects.order_by("id")] == ["credential.set", "peer.add", "job.start"]

    @pytest.mark.parametrize(
        ("url", "sentence"),
        [
            ("ftp://laptop.example.org", "give its base URL with http:// or https://"),
            ("laptop.example.org", "give its base URL with http:// or https://"),
            ("javascript:alert(1)", "give its base URL with http:// or https://"),
            ("", "give its base URL with http:// or https://"),
            ("https://admin:pw@laptop.example.org", "Put no user name or password"),
            ("https://laptop.example.org/?x=1", "without a ?query"),
            ("https://laptop.example.org:99999", "port that is not a number"),
            ("http://127.0.0.1:8000", "is this instance itself"),
            ("http://localhost:8000/", "is this instance itself"),
        ],
    )
    def test_a_bad_url_is_refused_with_a_sentence(self, url, sentence):
        with pytest.raises(PeerInvalid, match=sentence.replace("?", r"\?")) as caught:
            add_peer(url=url, own_urls=("http://127.0.0.1:8000/",))
        assert caught.value.status == 400
        assert not Peer.objects.exists() and not Credential.objects.exists()

    def test_the_same_host_on_another_port_is_another_instance(self):
        add_peer(url="http://127.0.0.1:8001", own_urls=("http://127.0.0.1:8000/",))
        assert Peer.objects.exists()

    def test_a_duplicate_name_is_refused(self):
        add_peer()
        with pytest.raises(PeerInvalid, match="A peer named laptop already exists"):
            add_peer(url="https://other.example.org", token="another-token")
        assert credential_read("peer-laptop") == SECRET  # the first peer's token is untouched

    @pytest.mark.parametrize("token", ["", "   ", "\t\n"])
    def test_an_empty_or_whitespace_token_is_refused(self, token):
        with pytest.raises(CredentialInvalid, match="The token is empty"):
            add_peer(token=token)
        assert not Peer.objects.exists()

    @pytest.mark.parametrize("name", ["", "Laptop", "../x", "-x", "a" * 60])
    def test_a_bad_name_is_refused(self, name):
        with pytest.raises(PeerInvalid, match="cannot name a peer"):
            add_peer(name=name)


class PeerRemoveTests:
    def test_removing_forgets_the_peer_and_its_token(self, store):
        add_peer()
        services.peer_remove(name="laptop", actor=None, source="cli")
        assert not Peer.objects.exists() and not Credential.objects.exists()
        assert not (store / "peer-laptop").exists()
        assert {"peer.remove", "credential.remove"} <= set(AuditLog.objects.values_list("action", flat=True))

    def test_an_unknown_peer_is_404(self):
        with pytest.raises(PeerUnknown) as caught:
            services.peer_remove(name="ghost", actor=None, source="cli")
        assert caught.value.status == 404


class VerifyStartTests:
    def test_a_peers_token_is_verified_through_its_peer(self):
        add_peer().job.delete()
        job = services.verify_start(credential="peer-laptop", actor=None, source="cli")
        assert job.params == {"peer": "laptop"}

    def test_an_unknown_target_is_404(self):
        with pytest.raises(PeerUnknown):
            services.verify_start(peer="ghost", actor=None, source="cli")
        with pytest.raises(services.CredentialUnknown):
            services.verify_start(credential="ghost", actor=None, source="cli")


class SecretNeverLeaksTests:
    """Plant a secret and look for it everywhere CHL Ops writes: database, logs, audit rows, job params."""

    def test_the_secret_is_nowhere_but_its_file(self, store, superuser, caplog):
        caplog.set_level(logging.DEBUG)
        services.credential_set(name="github", kind="git_token", secret=SECRET, actor=superuser, source="web")
        add_peer(token=SECRET + "-peer")
        services.peer_remove(name="laptop", actor=superuser, source="web")
        services.credential_set(name="github", kind="git_token", secret=SECRET + "-2", actor=superuser, source="web")
        dump = io.StringIO()
        call_command("dumpdata", "--all", stdout=dump)  # every table of every app
        assert SECRET not in dump.getvalue()
        assert SECRET not in caplog.text
        assert not any(SECRET in str(row.details) + row.target for row in AuditLog.objects.all())
        assert not any(SECRET in str(job.params) + str(job.result) + job.error for job in Job.objects.all())
        assert os.listdir(store) == ["github"]
