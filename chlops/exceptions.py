"""The one base of every error that carries a message a person can act on."""

from __future__ import annotations


class ChlopsError(Exception):
    """An error whose message is shown as is; status is the HTTP status an API answers with."""

    status = 400
    exit_code = 2

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class ServiceUnavailable(ChlopsError):
    status = 503
    exit_code = 1
