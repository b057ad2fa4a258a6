"""Loaded with `-p tests.env` before Django's settings: give the test run its own data dir."""

from __future__ import annotations

import os
import tempfile

if "CHLOPS_DATA_DIR" not in os.environ:
    os.environ["CHLOPS_DATA_DIR"] = tempfile.mkdtemp(prefix="chlops-test-")
os.environ.setdefault("CHLOPS_IMPORT_DIR", os.path.join(os.environ["CHLOPS_DATA_DIR"], "imports"))
os.environ.setdefault("CHLOPS_EXPORT_DIR", os.path.join(os.environ["CHLOPS_DATA_DIR"], "exports"))
# Short staleness so the worker-lost tests run in seconds; the reaper itself is called by them.
os.environ.setdefault("CHLOPS_JOB_STALE_SECONDS", "4")
