"""The credential store: one file per secret, mode 0600, replaced atomically, read back with a sentence."""

from __future__ import annotations

import os
import stat

import pytest

from chlops import credentials
from chlops.credentials import CredentialInvalid, CredentialUnreadable

SECRET = "tok-3f9a2c-planted-secret"


@pytest.fixture(autouse=True)
def store(settings, tmp_path):
    settings.CREDENTIALS_DIR = tmp_path / "credentials"
    return settings.CREDENTIALS_DIR


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


class CredentialStoreTests:
    def test_a_secret_is_one_file_readable_by_its_owner_only(self, store):
        fingerprint = credentials.credential_write("github", SECRET + "\n")
        assert (store / "github").read_text() == SECRET  # the pasted line's newline is not part of it
        assert mode(store / "github") == 0o600
        assert mode(store) == 0o700
        assert fingerprint == credentials.secret_fingerprint(SECRET) and SECRET not in fingerprint
        assert len(fingerprint) == 16
        assert credentials.credential_read("github") == SECRET

    def test_replacing_a_secret_is_one_rename_and_leaves_no_temporary_file(self, store):
        credentials.credential_write("github", "old-token")
        credentials.credential_write("github", "new-token")
        assert credentials.credential_read("github") == "new-token"
        assert sorted(os.listdir(store)) == ["github"]

    def test_a_write_that_fails_half_way_keeps_the_old_secret_whole(self, store, monkeypatch):
        credentials.credential_write("github", "old-token")

        def disk_full(fd):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(credentials.os, "fsync", disk_full)
        with pytest.raises(OSError):
            credentials.credential_write("github", "new-token")
        monkeypatch.undo()
        assert credentials.credential_read("github") == "old-token"
        assert sorted(os.listdir(store)) == ["github"]

    def test_the_file_is_0600_even_under_a_permissive_umask(self, store):
        previous = os.umask(0)
        try:
            credentials.credential_write("loose", SECRET)
        finally:
            os.umask(previous)
        assert mode(store / "loose") == 0o600

    def test_delete_removes_the_file_and_is_quiet_when_it_is_gone(self, store):
        credentials.credential_write("github", SECRET)
        credentials.credential_delete("github")
        credentials.credential_delete("github")
        assert not (store / "github").exists()

    @pytest.mark.parametrize("secret", ["", "   ", "\n\t", None])
    def test_an_empty_or_whitespace_secret_is_refused(self, secret):
        with pytest.raises(CredentialInvalid, match="The token is empty"):
            credentials.credential_write("github", secret)

    def test_a_secret_with_a_line_break_inside_is_refused(self):
        with pytest.raises(CredentialInvalid, match="line break"):
            credentials.credential_write("github", "one\ntwo")

    @pytest.mark.parametrize("name", ["", "../etc", ".hidden", "UPPER", "a/b", "x" * 65, "sp ace"])
    def test_a_name_that_cannot_name_a_file_is_refused_with_the_rule(self, name, store):
        with pytest.raises(CredentialInvalid, match="lowercase letters"):
            credentials.credential_write(name, SECRET)
        assert not store.exists() or os.listdir(store) == []


class CredentialReadTests:
    def test_a_missing_file_says_to_set_it_again(self):
        with pytest.raises(CredentialUnreadable, match="is missing .* set it again on the Settings page"):
            credentials.credential_read("nothing")

    @pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
    def test_an_unreadable_file_says_why(self, store):
        credentials.credential_write("locked", SECRET)
        os.chmod(store / "locked", 0)
        with pytest.raises(CredentialUnreadable, match="cannot be read .*Permission denied") as caught:
            credentials.credential_read("locked")
        assert SECRET not in caught.value.message

    def test_a_file_replaced_by_something_unreadable_says_why(self, store):
        store.mkdir()
        (store / "github").mkdir()  # readable by nobody as a file, root included
        with pytest.raises(CredentialUnreadable, match="cannot be read .*Is a directory"):
            credentials.credential_read("github")

    def test_an_emptied_file_is_refused(self, store):
        credentials.credential_write("github", SECRET)
        (store / "github").write_text("\n")
        with pytest.raises(CredentialUnreadable, match="is empty"):
            credentials.credential_read("github")
