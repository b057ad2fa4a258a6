"""Why an ingest stops."""

from __future__ import annotations

from chlops.exceptions import ChlopsError


class IngestFailed(ChlopsError):
    """The repository cannot be ingested; the job fails with this sentence and no entry is touched."""
