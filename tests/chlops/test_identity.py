"""The instance's Ed25519 identity: generated once, mode 0600, the same key on every call."""

from __future__ import annotations

import base64
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization

from chlops import identity


@pytest.fixture(autouse=True)
def key_path(settings, tmp_path):
    settings.IDENTITY_KEY_PATH = tmp_path / "signing-key.pem"
    return settings.IDENTITY_KEY_PATH


class IdentityTests:
    def test_the_key_is_generated_once_with_mode_0600(self, key_path):
        first = identity.identity_public()
        assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
        assert identity.identity_public() == first
        assert len(base64.b64decode(first.public_key)) == 32
        assert first.fingerprint.startswith("SHA256:")
        assert first.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")

    def test_the_key_signs_and_its_public_half_verifies(self):
        signature = identity.identity_key().sign(b"bundle")
        public = serialization.load_pem_public_key(identity.identity_public().public_key_pem.encode())
        public.verify(signature, b"bundle")  # raises on a bad signature

    def test_a_second_instance_has_another_key(self, settings, tmp_path, key_path):
        first = identity.identity_public()
        settings.IDENTITY_KEY_PATH = tmp_path / "other.pem"
        assert identity.identity_public().fingerprint != first.fingerprint

    def test_a_process_that_loses_the_race_keeps_the_winners_key(self, key_path, monkeypatch):
        winner = identity.identity_public()
        # As if this process checked before the winner wrote: it creates one too, and keeps the winner's.
        identity._identity_create(key_path)
        assert identity.identity_public() == winner
        assert [name for name in os.listdir(key_path.parent) if name.startswith(".signing-key-")] == []
