"""The Settings page: superusers only, forms that answer 400 with a sentence, tiles, and no secret in its source."""

from __future__ import annotations

import re
import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from audit.models import AuditLog
from chlops.credentials import credential_delete
from indexes.models import Credential, Peer
from indexes.peers import services
from indexes.peers.cards import credentials_card_context
from operations.models import Job, JobState
from tests.conftest import receive_containing
from tests.indexes.peer_factories import verify_jobs_wait
from tests.operations.factories import job_create
from tests.operations.test_consumers import open_socket, session_cookie
from tests.sessions import browser_login, csrf_header

SECRET = "planted-secret-ab12cd34ef"
PAGE = "/admin/ops/settings/"


@pytest.fixture
def store(settings, tmp_path):
    settings.CREDENTIALS_DIR = tmp_path / "credentials"


def post(client, url: str, data: dict):
    return client.post(url, data, HTTP_HX_REQUEST="true", **csrf_header(client))


def answer_error(response) -> str:
    return re.search(r'class="ops-inline-error" role="alert">([^<]+)', response.content.decode()).group(1)


@pytest.mark.django_db
@pytest.mark.usefixtures("store")
class SettingsAccessTests:
    @pytest.mark.parametrize("who", ["operator", "auditor", "plain_staff"])
    def test_only_superusers_open_the_page_others_get_403_audited(self, who, request):
        user = request.getfixturevalue(who)
        response = browser_login(user).get(PAGE)
        assert response.status_code == 403
        assert "Only a superuser may see and change settings" in response.content.decode()
        assert AuditLog.objects.filter(action="permission.denied", actor=user, target=PAGE).exists()

    def test_an_operator_cannot_post_nor_read_the_cards_partials(self, operator):
        client = browser_login(operator)
        assert post(client, "/admin/ops/settings/credentials/", {"credential-name": "x"}).status_code == 403
        assert post(client, "/admin/ops/settings/peers/x/verify/", {}).status_code == 403
        assert client.get("/admin/ops/partials/card/credentials-card/").status_code == 403
        assert client.get("/admin/ops/partials/card/peers-card/").status_code == 403
        assert not Credential.objects.exists() and not Job.objects.exists()

    def test_the_settings_tab_is_shown_only_to_superusers(self, operator, superuser):
        assert "/admin/ops/settings/" not in browser_login(operator).get("/admin/ops/").content.decode()
        page = browser_login(superuser).get(PAGE).content.decode()
        assert re.search(r'<a href="/admin/ops/settings/" aria-current="page">Settings</a>', page)
        tabs = re.findall(r'<li><a href="[^"]+"[^>]*>([^<]+)</a></li>', page)
        assert tabs[0] == "Operations" and tabs[-1] == "Settings"

    def test_anonymous_goes_to_the_login_page(self, client):
        response = client.get(PAGE)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
@pytest.mark.usefixtures("store")
class CredentialFormTests:
    def test_saving_answers_at_once_with_a_queued_verification_and_no_secret(self, superuser):
        client = browser_login(superuser)  # CSRF enforced, as a browser is
        response = post(client, "/admin/ops/settings/credentials/", {"credential-name": "github", "credential-kind": "git_token", "credential-secret": SECRET})
        assert response.status_code == 200
        html = response.content.decode()
        job = Job.objects.get(type="verify")
        assert f"{job} verifies it in the background" in html
        assert '<section id="credential-form"' in html and 'value="github"' not in html  # the form comes back empty
        assert "ops:jobs-changed" in response["HX-Trigger"]  # a page without its socket polls the cards now
        page = client.get(PAGE).content.decode()
        assert 'data-tile-state="queued"' in page and re.search(r'data-action="verify"[^>]*disabled', page)
        assert Credential.objects.get().fingerprint in page
        assert SECRET not in html and SECRET not in page

    @pytest.mark.parametrize(
        ("data", "sentence"),
        [
            ({"credential-name": "github", "credential-kind": "git_token", "credential-secret": "   "}, "The token is empty"),
            ({"credential-name": "../etc", "credential-kind": "git_token", "credential-secret": SECRET}, "cannot name a credential"),
            ({"credential-name": "github", "credential-kind": "ssh", "credential-secret": SECRET}, "Select a valid choice"),
            ({"credential-name": "github", "credential-kind": "git_token"}, "This field is required"),
        ],
    )
    def test_bad_input_is_400_with_a_sentence_and_the_secret_is_not_sent_back(self, superuser, data, sentence):
        response = post(browser_login(superuser), "/admin/ops/settings/credentials/", data)
        assert response.status_code == 400
        assert sentence in answer_error(response)
        assert SECRET not in response.content.decode()
        assert not Credential.objects.exists()

    def test_removing_asks_first_then_removes(self, superuser):
        services.credential_set(name="github", kind="git_token", secret=SECRET, actor=superuser, source="web")
        client = browser_login(superuser)
        assert 'hx-confirm="Remove the credential github?' in client.get(PAGE).content.decode()
        response = post(client, "/admin/ops/settings/credentials/github/remove/", {})
        assert response.status_code == 200 and "Removed the credential github" in response.content.decode()
        assert not Credential.objects.exists()

    def test_removing_an_unknown_credential_is_404_with_a_sentence(self, superuser):
        response = post(browser_login(superuser), "/admin/ops/settings/credentials/ghost/remove/", {})
        assert response.status_code == 404 and "There is no credential named ghost" in answer_error(response)


@pytest.mark.django_db
@pytest.mark.usefixtures("store")
class PeerFormTests:
    def add(self, client, **data):
        fields = {"name": "laptop", "base_url": "https://laptop.example.org", "token": SECRET, **data}
        return post(client, "/admin/ops/settings/peers/", {f"peer-{k}": v for k, v in fields.items()})

    def test_adding_a_peer_queues_its_verification(self, superuser):
        response = self.add(browser_login(superuser))
        assert response.status_code == 200
        assert Peer.objects.get().name == "laptop" and Job.objects.get().params == {"peer": "laptop"}
        assert SECRET not in response.content.decode()

    @pytest.mark.parametrize(
        ("data", "sentence"),
        [
            ({"base_url": "ftp://laptop.example.org"}, "give its base URL with http:// or https://"),
            ({"base_url": "http://testserver/"}, "is this instance itself"),
            ({"base_url": "http://TESTSERVER:80"}, "is this instance itself"),
            ({"token": ""}, "This field is required"),
            ({"token": "  \t "}, "The token is empty"),
            ({"name": "Not A Name"}, "cannot name a peer"),
        ],
    )
    def test_bad_input_is_400_with_a_sentence(self, superuser, data, sentence):
        response = self.add(browser_login(superuser), **data)
        assert response.status_code == 400
        assert sentence in answer_error(response)
        assert not Peer.objects.exists() and not Credential.objects.exists()

    def test_a_duplicate_name_is_400(self, superuser):
        client = browser_login(superuser)
        self.add(client)
        response = self.add(client, base_url="https://other.example.org")
        assert response.status_code == 400 and "A peer named laptop already exists" in answer_error(response)

    def test_verify_connection_is_refused_while_one_is_queued_and_offered_again_after(self, superuser):
        client = browser_login(superuser)
        self.add(client)
        response = post(client, "/admin/ops/settings/peers/laptop/verify/", {})
        assert response.status_code == 409 and "Already running" in answer_error(response)
        Job.objects.update(state=JobState.FAILED, error="The peer laptop answered 401: the token was refused.")
        page = client.get(PAGE).content.decode()
        assert 'data-tile-state="failed"' in page and "answered 401: the token was refused" in page
        assert not re.search(r'aria-label="Verify connection: laptop" disabled', page)
        response = post(client, "/admin/ops/settings/peers/laptop/verify/", {})
        assert response.status_code == 200 and Job.objects.filter(state=JobState.QUEUED).count() == 1

    def test_removing_a_peer_asks_first(self, superuser):
        client = browser_login(superuser)
        self.add(client)
        assert 'hx-confirm="Remove the peer laptop?' in client.get(PAGE).content.decode()
        assert post(client, "/admin/ops/settings/peers/laptop/remove/", {}).status_code == 200
        assert not Peer.objects.exists()


@pytest.mark.django_db
class StatusTileTests:
    def test_a_tile_says_never_queued_running_and_verified(self, superuser, store):
        services.credential_set(name="github", kind="git_token", secret=SECRET, actor=superuser, source="web")
        client = browser_login(superuser)
        job = Job.objects.get()
        for state, word in [(JobState.QUEUED, "queued"), (JobState.RUNNING, "running"), (JobState.SUCCEEDED, "verified")]:
            Job.objects.filter(pk=job.pk).update(state=state, result={"message": "All good."} if state == JobState.SUCCEEDED else None)
            html = client.get("/admin/ops/partials/card/credentials-card/").content.decode()
            tile = re.search(r'<div class="ops-tile[^"]*" id="tile-verify-credential-github".*?</div>', html, re.S).group(0)
            assert f'data-tile-state="{state}"' in tile and f'<span class="ops-state-text">{word}</span>' in tile
            assert (" disabled" in tile) == (state != JobState.SUCCEEDED)
        assert "All good." in html

    def test_one_query_finds_every_tiles_latest_job(self, superuser, store, django_assert_max_num_queries):
        for name in ("a", "b", "c"):
            services.credential_set(name=name, kind="git_token", secret=SECRET, actor=superuser, source="web")
        job_create(type="verify", state=JobState.FAILED, params={"credential": "a"}, lock_key="verify:credential:a")
        with django_assert_max_num_queries(4):
            rows = credentials_card_context()["rows"]
        assert [row.tile.state for row in rows] == ["failed", "queued", "queued"]


@pytest.mark.django_db(transaction=True)
class SettingsSocketTests:
    def test_an_operator_cannot_watch_the_settings_page(self, operator):
        cookie = session_cookie(operator)

        async def scenario() -> bool:
            socket, connected = await open_socket(cookie, path="/ws/ops/?view=settings")
            await socket.disconnect()
            return connected

        assert async_to_sync(scenario)() is False
        assert AuditLog.objects.filter(action="permission.denied", actor=operator, details__channel="websocket").exists()

    def test_a_verify_job_turns_its_tile_queued_then_verified_live(self, superuser, worker):
        name = f"git{uuid.uuid4().hex[:8]}"  # the worker reads the shared credentials dir
        cookie = session_cookie(superuser)

        async def scenario() -> tuple[str, str]:
            socket, connected = await open_socket(cookie, path="/ws/ops/?view=settings")
            assert connected
            snapshot = await socket.receive_from(timeout=10)
            assert 'id="credentials-card"' in snapshot
            tile = f'id="tile-verify-credential-{name}" data-tile-state='
            with verify_jobs_wait():
                await sync_to_async(services.credential_set)(name=name, kind="git_token", secret=SECRET, actor=superuser, source="web")
                queued = await receive_containing(socket, f'{tile}"queued"', timeout=20)
            done = await receive_containing(socket, f'{tile}"succeeded"', timeout=30, attempts=40)
            await socket.disconnect()
            return queued, done

        try:
            queued, done = async_to_sync(scenario)()
        finally:
            credential_delete(name)
        assert 'hx-swap-oob="true"' in done and "verified" in done and SECRET not in queued + done
