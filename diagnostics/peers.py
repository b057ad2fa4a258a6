"""Checks of credentials and peers: a secret that cannot be read, a verification failed or never made."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import ClassVar

from chlops.credentials import CredentialUnreadable, credential_read
from chlops.exceptions import ChlopsError
from diagnostics.base import CRITICAL, WARNING, Diagnostic, DiagnosticCheck
from indexes.models import Credential, Peer
from indexes.peers.selectors import VERIFY, verify_lock
from operations.selectors import job_latest_by_lock

SETTINGS = "the Settings page"


@dataclasses.dataclass
class CredentialsUsable(DiagnosticCheck):
    """Each credential's secret is on disk and readable, and the last verification of one that is no peer's token passed.

    A peer's token is verified through its peer, whose own diagnostic says what failed.
    """

    jobs: ClassVar[tuple[str, ...]] = (VERIFY,)

    def run(self) -> Iterator[Diagnostic]:
        credentials = list(Credential.objects.order_by("name").prefetch_related("peers"))
        unverified = []
        for credential in credentials:
            try:
                credential_read(credential.name)  # read and dropped: the file is what is checked
            except CredentialUnreadable as exc:
                yield Diagnostic(
                    f"credential-unreadable:{credential.name}",
                    CRITICAL,
                    exc.extra.get("problem") or exc.message,
                    exc.extra.get("fix") or f"Set it again on {SETTINGS}.",
                )
                continue
            except ChlopsError as exc:  # a name that is no longer a valid file name
                yield Diagnostic(
                    f"credential-unreadable:{credential.name}", CRITICAL, exc.message, f"Set it again on {SETTINGS}."
                )
                continue
            if credential.peers.all():
                continue
            if credential.last_ok is False:
                yield Diagnostic(
                    f"credential-failing:{credential.name}",
                    WARNING,
                    f"Credential {credential.name} failed its last verification: {_clause(credential.last_result)}",
                    f"Set its token again on {SETTINGS}, or press Verify there once the cause is mended.",
                )
            elif credential.last_ok is None:
                unverified.append(credential)
        yield from _unverified(
            {verify_lock({"credential": c.name}): c for c in unverified},
            lambda c: Diagnostic(
                f"credential-unverified:{c.name}",
                WARNING,
                f"Credential {c.name} has never been verified, so nothing says it works.",
                f"Press Verify beside it on {SETTINGS} (a worker must be online to run it).",
            ),
        )


@dataclasses.dataclass
class PeersReachable(DiagnosticCheck):
    """Each enabled peer answered its last verification; one never verified is said too."""

    jobs: ClassVar[tuple[str, ...]] = (VERIFY,)

    def run(self) -> Iterator[Diagnostic]:
        unverified = {}
        for peer in Peer.objects.filter(enabled=True).order_by("name"):
            if peer.last_ok is False:
                yield Diagnostic(
                    f"peer-unreachable:{peer.name}",
                    WARNING,
                    f"Peer {peer.name} ({peer.base_url}) failed its last verification: {_clause(peer.last_result)}",
                    f"Mend the cause, then press Verify connection on {SETTINGS}; no push or pull to it works meanwhile.",
                )
            elif peer.last_ok is None:
                unverified[verify_lock({"peer": peer.name})] = peer
        yield from _unverified(
            unverified,
            lambda p: Diagnostic(
                f"peer-unverified:{p.name}",
                WARNING,
                f"Peer {p.name} ({p.base_url}) has never been verified, so its signing key is not recorded yet.",
                f"Press Verify connection on {SETTINGS} and compare the fingerprint it shows with the peer's.",
            ),
        )


def _clause(reason: str) -> str:
    reason = (reason or "no reason was kept").strip()
    return reason if reason.endswith((".", "!", "?")) else f"{reason}."


def _unverified(by_lock: dict, diagnostic) -> Iterator[Diagnostic]:
    """Those never verified whose verification is not queued or running right now (one query, none if none)."""
    latest = job_latest_by_lock(type=VERIFY, lock_keys=list(by_lock))
    for key, item in by_lock.items():
        job = latest.get(key)
        if job is None or not job.is_active:
            yield diagnostic(item)


ALL = (CredentialsUsable(), PeersReachable())
