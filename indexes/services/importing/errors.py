"""Why an import stops, and why one row is rejected."""

from __future__ import annotations

from chlops.exceptions import ChlopsError


class ImportFailed(ChlopsError):
    """The file as a whole cannot be imported; the job fails with this sentence."""


class RowRejected(Exception):
    """One row is bad; it is reported with its number and the import goes on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
