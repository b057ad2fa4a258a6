"""Accounts and tokens for the peers' tests (a Peers-group account another instance calls with), and a
way to keep verify jobs queued."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.auth.models import User
from django.test import Client

from chlops.celery import app
from operations.tokens import token_create
from tests.conftest import make_user


def peer_account(username: str = "peer-laptop") -> User:
    """A user in the Peers group: not staff, nothing but the sync API."""
    return make_user(username, groups=("Peers",), staff=False)


def bearer(user: User) -> str:
    return token_create(user=user, name="peer", source="cli")[1]


def token_client(user: User) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {bearer(user)}")


@contextmanager
def verify_jobs_wait() -> Iterator[None]:
    """No worker takes from the control queue (verify's) meanwhile: a job queued in it waits until the end."""
    nodes = [node for reply in app.control.ping(timeout=1) for node in reply]
    app.control.cancel_consumer("control", destination=nodes, reply=True, timeout=5)
    try:
        yield
    finally:
        app.control.add_consumer("control", destination=nodes, reply=True, timeout=5)
