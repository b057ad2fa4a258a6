"""Why sparse search cannot answer."""

from __future__ import annotations

from chlops.exceptions import ServiceUnavailable


class SparseNotBuilt(ServiceUnavailable):
    """No sparse vectors have been generated yet (HTTP 503)."""

    def __init__(self, message: str = "Sparse vectors have not been generated yet; run the sparse job.") -> None:
        super().__init__(message)
