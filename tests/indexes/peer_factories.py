"""Accounts and tokens for the peers' tests: a Peers-group account another instance calls with."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client

from operations.tokens import token_create
from tests.conftest import make_user


def peer_account(username: str = "peer-laptop") -> User:
    """A user in the Peers group: not staff, nothing but the sync API."""
    return make_user(username, groups=("Peers",), staff=False)


def bearer(user: User) -> str:
    return token_create(user=user, name="peer", source="cli")[1]


def token_client(user: User) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {bearer(user)}")
