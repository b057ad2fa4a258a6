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
# The test database is dropped when the run ends; a connection kept open by a thread would block that.
os.environ.setdefault("CHLOPS_DB_CONN_MAX_AGE", "0")
