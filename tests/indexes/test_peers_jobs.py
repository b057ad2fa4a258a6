"""The verify job end to end: queued by a save, run by a real worker, against another real CHL Ops instance."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from chlops.credentials import credential_delete
from chlops.identity import identity_public
from indexes.models import Peer
from indexes.peers import services
from operations.models import Job, JobState
from tests.conftest import wait_for
from tests.indexes.peer_factories import bearer, peer_account
from tests.indexes.peer_servers import stand_in_peer

pytestmark = pytest.mark.django_db(transaction=True)


def finished(job: Job) -> Job:
    wait_for(lambda: (job.refresh_from_db() or job.is_finished), timeout=60, message=f"{job} to finish")
    return job


@pytest.fixture
def peer_name():
    """A name of its own: the worker reads the shared credentials dir, so files are cleaned up by hand."""
    name = f"p{uuid.uuid4().hex[:8]}"
    yield name
    credential_delete(f"peer-{name}")


class VerifyJobTests:
    def test_a_new_peer_is_verified_and_its_key_recorded(self, worker, peer_instance, peer_name, superuser):
        saved = services.peer_add(
            name=peer_name, base_url=peer_instance, token=bearer(peer_account()), actor=superuser, source="web"
        )
        job = finished(saved.job)
        assert job.state == JobState.SUCCEEDED, job.error
        peer = Peer.objects.get(name=peer_name)
        assert peer.last_ok is True and "recorded on first contact" in peer.last_result
        assert peer.signing_key and peer.signing_key != identity_public().public_key  # another instance's key
        assert job.result["signing_key"] == peer.signing_key_fingerprint and job.result["protocol"] == 1

    def test_a_token_the_peer_refuses_fails_the_job_with_401(self, worker, peer_instance, peer_name):
        saved = services.peer_add(name=peer_name, base_url=peer_instance, token="chl_not-a-token", actor=None, source="cli")
        job = finished(saved.job)
        assert job.state == JobState.FAILED
        assert job.error.startswith(f"The peer {peer_name} answered 401: the token was refused.")
        assert Peer.objects.get(name=peer_name).last_result == job.error

    def test_a_peer_that_does_not_answer_fails_the_job_after_the_timeout(self, worker, peer_name):
        with stand_in_peer() as (url, _):
            saved = services.peer_add(name=peer_name, base_url=f"{url}/slow", token="tok", actor=None, source="cli")
            job = finished(saved.job)
        assert job.state == JobState.FAILED
        assert f"did not answer within {settings.CHLOPS_PEER_TIMEOUT:g} s" in job.error
