"""Check an untrusted snapshot ZIP and unpack it into a staging dir, or refuse it with a reason.

Order: the entry list (names, symlinks, encryption, duplicates, count, nested archives) before a byte is
unpacked; then each entry in chunks with the unpacked total and the per-entry ratio enforced as bytes
come out (declared sizes are never trusted); then the manifest, checksums and the embedder's
dimension; last, the FAISS and numpy files are opened in a subprocess with a memory limit and a
timeout, so a malformed file can only kill that subprocess.
"""

from __future__ import annotations

import hashlib
import json
import re
import resource
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from chlops.exceptions import ChlopsError
from indexes.snapshots.storage import MANIFEST
from indexes.store.files import DATA_FILES, INDEX_FILE

REQUIRED = frozenset({MANIFEST, *DATA_FILES})
MAX_ENTRIES = 16
CHUNK = 1024 * 1024
MANIFEST_MAX_BYTES = 1024 * 1024
RATIO_MAX = 100  # unpacked / packed, checked once an entry has given more than RATIO_FLOOR bytes
RATIO_FLOOR = 16 * 1024 * 1024
PROBE_MEMORY = 2 * 1024 * 1024 * 1024  # plus the size of the FAISS file
PROBE_TIMEOUT = 120
ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".zst")
ARCHIVE_MAGIC = (b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"Rar!", b"\x28\xb5\x2f\xfd")
DRIVE = re.compile(r"^[A-Za-z]:")
S_IFMT, S_IFLNK = 0o170000, 0o120000
FLAG_ENCRYPTED = 0x1


class SnapshotRefused(ChlopsError):
    status = 400
    exit_code = 2


def _refuse(reason: str) -> SnapshotRefused:
    return SnapshotRefused(f"The snapshot was refused: {reason}")


def entries_check(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse a dangerous or wrong entry list before anything is unpacked."""
    if len(infos) > MAX_ENTRIES:
        raise _refuse(f"it has {len(infos)} entries; a snapshot has exactly {len(REQUIRED)}.")
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or DRIVE.match(name):
            raise _refuse(f"the entry {name!r} has an absolute path.")
        if ".." in parts:
            raise _refuse(f"the entry {name!r} points outside the archive (path traversal).")
        if (info.external_attr >> 16) & S_IFMT == S_IFLNK:
            raise _refuse(f"the entry {name!r} is a symbolic link.")
        if info.flag_bits & FLAG_ENCRYPTED:
            raise _refuse(f"the entry {name!r} is encrypted.")
        if name in seen:
            raise _refuse(f"the entry {name!r} appears twice.")
        seen.add(name)
        if name.lower().endswith(ARCHIVE_SUFFIXES):
            raise _refuse(f"the entry {name!r} is an archive inside the archive.")
    missing, extra = sorted(REQUIRED - seen), sorted(seen - REQUIRED)
    if missing:
        raise _refuse(f"it lacks {', '.join(missing)}; a snapshot holds {', '.join(sorted(REQUIRED))}.")
    if extra:
        raise _refuse(f"it holds files a snapshot does not have: {', '.join(extra)}.")


def entry_unpack(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    *,
    target: Path,
    budget: list[int],
    checkpoint: Callable[[], None] | None = None,
) -> str:
    """Unpack one entry in chunks, enforcing the remaining budget and the ratio; return its sha256."""
    digest, written = hashlib.sha256(), 0
    packed = max(1, info.compress_size)
    limit = MANIFEST_MAX_BYTES if info.filename == MANIFEST else None
    with archive.open(info) as reader, open(target, "wb") as writer:
        while block := reader.read(CHUNK):
            if written == 0 and block.startswith(ARCHIVE_MAGIC):
                raise _refuse(f"the entry {info.filename!r} is an archive inside the archive.")
            written += len(block)
            budget[0] -= len(block)
            if budget[0] < 0:
                raise _refuse(
                    f"it unpacks to more than {settings.CHLOPS_SNAPSHOT_MAX_UNPACKED_BYTES} bytes (a zip bomb?)."
                )
            if written > RATIO_FLOOR and written / packed > RATIO_MAX:
                raise _refuse(
                    f"the entry {info.filename!r} unpacks more than {RATIO_MAX} times its size (a zip bomb?)."
                )
            if limit is not None and written > limit:
                raise _refuse(f"its manifest is larger than {limit} bytes.")
            digest.update(block)
            writer.write(block)
            if checkpoint:
                checkpoint()
    return digest.hexdigest()


def manifest_check(staged: Path, *, digests: dict[str, str], expected_dimension: int) -> dict[str, Any]:
    """Refuse a manifest that is malformed, disagrees with the files, or with the current embedder."""
    try:
        manifest = json.loads((staged / MANIFEST).read_text())
    except (ValueError, UnicodeDecodeError):
        raise _refuse("its manifest.json is not valid JSON.") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(manifest.get(k), int) for k in ("dimension", "vectors")):
        raise _refuse("its manifest lacks files, dimension or vectors.")
    if set(files) != set(DATA_FILES):
        raise _refuse(f"its manifest lists {', '.join(sorted(files))}, not {', '.join(DATA_FILES)}.")
    for name in DATA_FILES:
        facts = files[name] if isinstance(files[name], dict) else {}
        if facts.get("sha256") != digests[name]:
            raise _refuse(f"the checksum of {name} does not match its manifest (the file is damaged or altered).")
        if facts.get("size") != (staged / name).stat().st_size:
            raise _refuse(f"the size of {name} does not match its manifest.")
    if manifest["dimension"] != expected_dimension:
        raise _refuse(
            f"its vectors have {manifest['dimension']} dimensions but the current embedder makes {expected_dimension}."
        )
    return manifest


PROBE = """
import json, sys
import numpy as np
import faiss
index = faiss.read_index(sys.argv[1])
ids = np.load(sys.argv[2], allow_pickle=False, mmap_mode="r")
kinds = np.load(sys.argv[3], allow_pickle=False, mmap_mode="r")
print(json.dumps({"d": int(index.d), "ntotal": int(index.ntotal), "ids": [str(ids.dtype), list(ids.shape)],
                  "kinds": [str(kinds.dtype), list(kinds.shape)]}))
"""


def files_probe(staged: Path, *, manifest: dict[str, Any]) -> None:
    """Open the FAISS and numpy files in a subprocess with a memory cap and a timeout; check what they hold."""
    cap = PROBE_MEMORY + (staged / INDEX_FILE).stat().st_size

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    paths = [str(staged / name) for name in DATA_FILES]
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROBE, *paths],
            preexec_fn=limit,
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise _refuse(f"reading its FAISS file took longer than {PROBE_TIMEOUT} seconds.") from None
    if done.returncode != 0:
        raise _refuse("its FAISS or id files are truncated or not what they claim to be; they cannot be read.")
    facts = json.loads(done.stdout.decode().strip().splitlines()[-1])
    vectors = manifest["vectors"]
    if facts["d"] != manifest["dimension"]:
        raise _refuse(
            f"its FAISS file holds {facts['d']}-dimensional vectors, its manifest says {manifest['dimension']}."
        )
    if facts["ntotal"] != vectors:
        raise _refuse(f"its FAISS file holds {facts['ntotal']} vectors, its manifest says {vectors}.")
    if facts["ids"] != ["int64", [vectors]] or facts["kinds"] != ["uint8", [vectors]]:
        raise _refuse("its id or kind arrays do not match the FAISS file.")


def snapshot_unpack(
    *, zip_path: Path, staged: Path, expected_dimension: int, checkpoint: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Validate an untrusted snapshot ZIP, unpacking it into `staged`; return its manifest or raise SnapshotRefused."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError):
        raise _refuse("the file is not a ZIP archive.") from None
    with archive:
        infos = archive.infolist()
        entries_check(infos)
        budget = [settings.CHLOPS_SNAPSHOT_MAX_UNPACKED_BYTES]
        digests = {}
        for info in infos:
            try:
                digests[info.filename] = entry_unpack(
                    archive, info, target=staged / info.filename, budget=budget, checkpoint=checkpoint
                )
            except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
                raise _refuse(f"the entry {info.filename!r} cannot be unpacked ({exc}).") from None
    manifest = manifest_check(staged, digests=digests, expected_dimension=expected_dimension)
    files_probe(staged, manifest=manifest)
    return manifest
