"""`manage.py peers list|add|verify`: clear messages and exit codes, never a traceback, never the token."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from django.core.management import CommandError, call_command

from chlops.credentials import credential_delete
from indexes.models import Peer
from operations.models import Job
from tests.conftest import wait_for
from tests.indexes.peer_servers import stand_in_peer

TOKEN = "cli-planted-token-0f3b"


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("peers", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def refused(*args: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        run(*args)
    return caught.value


@pytest.mark.django_db
class PeersCommandTests:
    @pytest.fixture(autouse=True)
    def store(self, settings, tmp_path):
        settings.CREDENTIALS_DIR = tmp_path / "credentials"

    def test_add_reads_the_token_from_a_file_and_queues_a_verification(self, token_file):
        out = run("add", "laptop", "https://laptop.example.org", "--token-file", str(token_file))
        job = Job.objects.get(type="verify")
        assert f"The peer laptop is saved; {job} verifies it in the background." in out
        assert Peer.objects.get().credential.name == "peer-laptop" and TOKEN not in out

    def test_list_shows_peers_and_never_their_token(self, token_file):
        run("add", "laptop", "https://laptop.example.org", "--token-file", str(token_file))
        assert "laptop" in run("list") and "never verified" in run("list")
        rows = json.loads(run("list", "--json"))
        assert rows[0]["name"] == "laptop" and rows[0]["token_fingerprint"] and TOKEN not in json.dumps(rows)

    def test_an_empty_list_says_how_to_add_one(self):
        assert "`peers add NAME URL --token-file FILE`" in run("list")

    @pytest.mark.parametrize(
        ("args", "sentence"),
        [
            (("add", "laptop", "ftp://x", "--token-file", "TOKEN"), "give its base URL with http:// or https://"),
            (("add", "Lap Top", "https://x.example.org", "--token-file", "TOKEN"), "cannot name a peer"),
            (("add", "laptop", "https://x.example.org", "--token-file", "/nonexistent/token"), "Cannot read the token file /nonexistent/token: No such file or directory."),
            (("add", "laptop", "https://x.example.org", "--token-file", "EMPTY"), "The token is empty"),
            (("verify", "ghost"), "There is no peer named ghost."),
        ],
    )
    def test_bad_input_exits_2_with_a_sentence(self, args, sentence, token_file, tmp_path):
        (tmp_path / "empty").write_text("  \n")
        args = tuple(str(token_file) if a == "TOKEN" else str(tmp_path / "empty") if a == "EMPTY" else a for a in args)
        error = refused(*args)
        assert error.returncode == 2 and sentence in str(error)
        assert not Peer.objects.exists()

    def test_a_duplicate_name_exits_2(self, token_file):
        run("add", "laptop", "https://laptop.example.org", "--token-file", str(token_file))
        error = refused("add", "laptop", "https://other.example.org", "--token-file", str(token_file))
        assert error.returncode == 2 and "A peer named laptop already exists" in str(error)

    def test_verify_while_one_is_queued_exits_4(self, token_file, capsys):
        run("add", "laptop", "https://laptop.example.org", "--token-file", str(token_file))
        with pytest.raises(SystemExit) as caught:
            run("verify", "laptop")
        assert caught.value.code == 4


@pytest.mark.django_db(transaction=True)
class PeersVerifyWaitTests:
    @pytest.fixture
    def name(self):
        name = f"c{uuid.uuid4().hex[:8]}"  # the worker reads the shared credentials dir
        yield name
        credential_delete(f"peer-{name}")

    def test_verify_wait_exits_0_when_the_peer_answers_and_1_when_it_refuses(self, worker, token_file, name):
        with stand_in_peer() as (url, _):
            run("add", name, f"{url}/ok", "--token-file", str(token_file))
            added = Job.objects.get(type="verify", params={"peer": name})
            wait_for(lambda: added.refresh_from_db() or added.is_finished, message="the add's verification")
            out = run("verify", name, "--wait")  # exit 0: call_command returns
            assert "succeeded" in out and "as recorded" in out  # the add's own verification recorded it
            Peer.objects.filter(name=name).update(base_url=f"{url}/refuses")
            out = io.StringIO()
            with pytest.raises(SystemExit) as caught:
                call_command("peers", "verify", name, "--wait", stdout=out)
        assert caught.value.code == 1
        assert f"The peer {name} answered 401: the token was refused." in out.getvalue()
