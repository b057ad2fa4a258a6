from __future__ import annotations

import hashlib
import io
import json
import warnings
import zipfile
from collections.abc import Callable

import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client

from audit.models import AuditLog
from indexes.models import IndexSnapshot
from indexes.services.reindex import index_rebuild
from indexes.snapshots.services import snapshot_save
from indexes.snapshots.storage import snapshots_dir
from tests.indexes.index_factories import RunCtx, entries_with_vectors, index_dir_isolated, tree_digest, unit_rows
from tests.sessions import browser_login, csrf_header

Members = list[tuple[zipfile.ZipInfo | str, bytes]]


@pytest.fixture
def own_index_dir(settings, tmp_path):
    yield from index_dir_isolated(settings, tmp_path)


@pytest.fixture
def good(own_index_dir, db, operator) -> dict[str, bytes]:
    """The members of a real snapshot of a freshly built index."""
    entries_with_vectors(unit_rows(40, seed=5), prefix="val")
    index_rebuild(RunCtx(), {})
    snapshot = snapshot_save(source="job", actor=operator, correlation_id=None)
    with zipfile.ZipFile(snapshots_dir() / snapshot.path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zipped(members: Members, *, compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are what one case is about
        with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
            for name, data in members:
                archive.writestr(name, data)
    return buffer.getvalue()


def with_file(good: dict[str, bytes], name: str, data: bytes) -> Members:
    """The good members with one data file replaced and the manifest agreeing with it."""
    manifest = json.loads(good["manifest.json"])
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    members = {**good, name: data, "manifest.json": json.dumps(manifest).encode()}
    return list(members.items())


def with_manifest(good: dict[str, bytes], change: Callable[[dict], None]) -> Members:
    manifest = json.loads(good["manifest.json"])
    change(manifest)
    return list({**good, "manifest.json": json.dumps(manifest).encode()}.items())


def info(name: str, *, mode: int) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name)
    entry.external_attr = mode << 16
    return entry


def encrypted_flag(data: bytes, name: str) -> bytes:
    """Set the 'encrypted' flag (bit 0) of one entry in its local header and central directory record."""
    raw = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        raw[archive.getinfo(name).header_offset + 6] |= 0x1
    at = raw.find(b"PK\x01\x02")
    while at != -1:
        length = int.from_bytes(raw[at + 28 : at + 30], "little")
        if raw[at + 46 : at + 46 + length] == name.encode():
            raw[at + 8] |= 0x1
        at = raw.find(b"PK\x01\x02", at + 46)
    return bytes(raw)


def bomb(good: dict[str, bytes]) -> bytes:
    return zipped(with_file(good, "index.faiss", bytes(40 * 1024 * 1024)), compression=zipfile.ZIP_DEFLATED)


CASES: dict[str, tuple[Callable[[dict[str, bytes]], bytes], str]] = {
    "not a zip": (lambda g: b"this is plain text", "the file is not a ZIP archive."),
    "dot-dot path": (
        lambda g: zipped([*g.items(), ("../evil.txt", b"x")]),
        "the entry '../evil.txt' points outside the archive (path traversal).",
    ),
    "absolute path": (
        lambda g: zipped([*g.items(), ("/etc/evil", b"x")]),
        "the entry '/etc/evil' has an absolute path.",
    ),
    "drive letter": (
        lambda g: zipped([*g.items(), ("C:/evil", b"x")]),
        "the entry 'C:/evil' has an absolute path.",
    ),
    "symlink entry": (
        lambda g: zipped(
            [*[(n, d) for n, d in g.items() if n != "ids.npy"], (info("ids.npy", mode=0o120777), b"/etc")]
        ),
        "the entry 'ids.npy' is a symbolic link.",
    ),
    "duplicate names": (
        lambda g: zipped([*g.items(), ("ids.npy", g["ids.npy"])]),
        "the entry 'ids.npy' appears twice.",
    ),
    "too many entries": (
        lambda g: zipped([*g.items(), *[(f"pad-{i}", b"") for i in range(20)]]),
        "it has 24 entries; a snapshot has exactly 4.",
    ),
    "zip bomb by ratio": (bomb, "the entry 'index.faiss' unpacks more than 100 times its size (a zip bomb?)."),
    "nested archive by name": (
        lambda g: zipped([*g.items(), ("inner.zip", b"PK\x03\x04")]),
        "the entry 'inner.zip' is an archive inside the archive.",
    ),
    "nested archive by content": (
        lambda g: zipped(with_file(g, "index.faiss", b"\x1f\x8b\x08\x00" + bytes(100))),
        "the entry 'index.faiss' is an archive inside the archive.",
    ),
    "encrypted entry": (
        lambda g: encrypted_flag(zipped(list(g.items())), "kinds.npy"),
        "the entry 'kinds.npy' is encrypted.",
    ),
    "missing file": (
        lambda g: zipped([(n, d) for n, d in g.items() if n != "kinds.npy"]),
        "it lacks kinds.npy; a snapshot holds ids.npy, index.faiss, kinds.npy, manifest.json.",
    ),
    "extra file": (
        lambda g: zipped([*g.items(), ("notes.txt", b"hello")]),
        "it holds files a snapshot does not have: notes.txt.",
    ),
    "checksum mismatch": (
        lambda g: zipped([(n, d if n != "ids.npy" else d[:-8] + bytes(8)) for n, d in g.items()]),
        "the checksum of ids.npy does not match its manifest (the file is damaged or altered).",
    ),
    "wrong dimension": (
        lambda g: zipped(with_manifest(g, lambda m: m.update(dimension=768))),
        "its vectors have 768 dimensions but the current embedder makes 384.",
    ),
    "truncated faiss file": (
        lambda g: zipped(with_file(g, "index.faiss", g["index.faiss"][: len(g["index.faiss"]) // 2])),
        "its FAISS or id files are truncated or not what they claim to be; they cannot be read.",
    ),
    "garbage faiss file": (
        lambda g: zipped(with_file(g, "index.faiss", np.random.default_rng(1).bytes(5000))),
        "its FAISS or id files are truncated or not what they claim to be; they cannot be read.",
    ),
}


def upload(client: Client, data: bytes, name: str = "snap.zip"):
    return client.post("/api/snapshots/upload", {"file": _named(data, name)})


def _named(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def staging_leftovers() -> list[str]:
    root = snapshots_dir() / "staging"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


class SnapshotUploadRefusalTests:
    @pytest.mark.parametrize("case", list(CASES))
    def test_a_bad_upload_is_refused_with_a_reason_and_leaves_nothing_behind(self, case, good, operator):
        build, reason = CASES[case]
        served, count = tree_digest(settings.INDEX_DIR), IndexSnapshot.objects.count()
        client = Client()
        client.force_login(operator)
        response = upload(client, build(good))
        assert response.status_code == 400, response.content
        assert response.json() == {"error": f"The snapshot was refused: {reason}"}
        row = AuditLog.objects.filter(action="snapshot.refused").latest("id")
        assert row.details["reason"] == f"The snapshot was refused: {reason}" and row.actor == operator
        assert row.target == "snap.zip" and row.outcome == "failure"
        assert staging_leftovers() == []
        assert tree_digest(settings.INDEX_DIR) == served
        assert IndexSnapshot.objects.count() == count

    def test_a_zip_unpacking_past_the_total_cap_is_refused_while_reading(self, good, operator, settings):
        settings.CHLOPS_SNAPSHOT_MAX_UNPACKED_BYTES = 10_000
        client = Client()
        client.force_login(operator)
        response = upload(client, zipped(list(good.items())))
        assert response.status_code == 400
        assert response.json() == {
            "error": "The snapshot was refused: it unpacks to more than 10000 bytes (a zip bomb?)."
        }
        assert staging_leftovers() == []

    def test_an_upload_over_the_size_cap_is_413(self, good, operator, settings):
        settings.CHLOPS_SNAPSHOT_MAX_BYTES = 1000
        client = Client()
        client.force_login(operator)
        response = upload(client, zipped(list(good.items())))
        assert response.status_code == 413
        assert response.json() == {
            "error": "The snapshot was refused: it is larger than 1000 bytes (CHLOPS_SNAPSHOT_MAX_BYTES)."
        }
        assert AuditLog.objects.filter(action="snapshot.refused").exists()
        assert staging_leftovers() == []

    def test_without_a_file_field_the_upload_says_what_to_send(self, good, operator):
        client = Client()
        client.force_login(operator)
        response = client.post("/api/snapshots/upload", {"other": "x"})
        assert response.status_code == 400
        assert response.json() == {"error": "Send the snapshot ZIP as the multipart field 'file'."}

    def test_auditors_cannot_upload(self, good, auditor):
        client = Client()
        client.force_login(auditor)
        assert upload(client, zipped(list(good.items()))).status_code == 403
        assert staging_leftovers() == []


class SnapshotUploadTests:
    def test_a_good_upload_becomes_a_new_snapshot(self, good, operator):
        served = tree_digest(settings.INDEX_DIR)
        client = Client()
        client.force_login(operator)
        response = upload(client, zipped(list(good.items()), compression=zipfile.ZIP_DEFLATED), name="mine.zip")
        assert response.status_code == 201, response.content
        body = response.json()
        snapshot = IndexSnapshot.objects.get(pk=body["id"])
        assert snapshot.source == "upload" and snapshot.created_by == operator
        assert body["vectors"] == 40 and body["dimension"] == 384
        with zipfile.ZipFile(snapshots_dir() / snapshot.path) as archive:
            assert archive.read("index.faiss") == good["index.faiss"]
        assert AuditLog.objects.filter(action="snapshot.create", target=snapshot.name).exists()
        assert staging_leftovers() == [] and tree_digest(settings.INDEX_DIR) == served

    def test_the_import_command_adds_a_good_file_and_refuses_a_bad_one(self, good, tmp_path):
        path = tmp_path / "good.zip"
        path.write_bytes(zipped(list(good.items())))
        out = io.StringIO()
        call_command("snapshots", "import", str(path), stdout=out)
        assert out.getvalue().startswith("Imported good.zip as snapshot ")
        bad = tmp_path / "bad.zip"
        bad.write_bytes(zipped([*good.items(), ("../x", b"")]))
        with pytest.raises(CommandError) as caught:
            call_command("snapshots", "import", str(bad))
        assert caught.value.returncode == 2
        assert (
            str(caught.value)
            == "The snapshot was refused: the entry '../x' points outside the archive (path traversal)."
        )
        assert AuditLog.objects.filter(action="snapshot.refused", target="bad.zip").exists()
        assert staging_leftovers() == []


class SnapshotSessionUploadTests:
    """The snapshot upload API as a page script calls it: session cookie plus X-CSRFToken, CSRF enforced."""

    def test_a_session_with_the_csrf_header_uploads_a_snapshot(self, good, operator):
        client = browser_login(operator)
        response = client.post(
            "/api/snapshots/upload", {"file": _named(zipped(list(good.items())), "mine.zip")}, **csrf_header(client)
        )
        assert response.status_code == 201, response.content
        snapshot = IndexSnapshot.objects.get(pk=response.json()["id"])
        assert snapshot.source == "upload" and snapshot.created_by == operator
        row = AuditLog.objects.get(action="snapshot.create", target=snapshot.name)
        assert row.source == "web"  # a session, not a token
        assert staging_leftovers() == []

    def test_a_session_without_the_csrf_header_is_403_and_leaves_nothing(self, good, operator):
        count = IndexSnapshot.objects.count()
        client = browser_login(operator)
        response = client.post("/api/snapshots/upload", {"file": _named(zipped(list(good.items())), "mine.zip")})
        assert response.status_code == 403
        assert "CSRF" in response.json()["error"]
        assert IndexSnapshot.objects.count() == count and staging_leftovers() == []

    def test_a_session_upload_over_the_snapshot_cap_is_413(self, good, operator, settings):
        settings.CHLOPS_SNAPSHOT_MAX_BYTES = 1000
        client = browser_login(operator)
        response = client.post(
            "/api/snapshots/upload", {"file": _named(zipped(list(good.items())), "mine.zip")}, **csrf_header(client)
        )
        assert response.status_code == 413
        assert response.json() == {
            "error": "The snapshot was refused: it is larger than 1000 bytes (CHLOPS_SNAPSHOT_MAX_BYTES)."
        }
        assert AuditLog.objects.filter(action="snapshot.refused", actor=operator).exists()
        assert staging_leftovers() == []
