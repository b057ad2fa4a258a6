"""`peers list|add|verify`: peers from cron and scripts (push and pull come with the sync)."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import CommandError, CommandParser

from indexes.peers import services
from indexes.peers.selectors import peer_json, peer_list
from operations.commands import ActionCommand, dumps
from operations.models import Job


def source() -> str:
    return "cli" if sys.stdin.isatty() else "cron"


def token_read(path: str) -> str:
    """The token in FILE ("-": standard input); the command line never carries a secret."""
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise CommandError(f"Cannot read the token file {path}: {reason}.", returncode=2) from None


class Command(ActionCommand):
    help = (
        "List, add and verify peers (other CHL Ops instances). "
        "Exit codes: 0 ok (or queued, without --wait), 1 failed, 2 bad usage or input, 3 cancelled, 4 lock conflict."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        listing = sub.add_parser("list", help="List the peers and their last verification.")
        listing.add_argument("--json", action="store_true")
        add = sub.add_parser("add", help="Register a peer and queue the verification of its connection.")
        add.add_argument("name")
        add.add_argument("url", help="The peer's base URL, http:// or https://")
        add.add_argument("--token-file", required=True, metavar="FILE", help='A file holding the token ("-": standard input).')
        add.add_argument("--json", action="store_true")
        verify = sub.add_parser("verify", help="Start a verify job for a peer.")
        verify.add_argument("name")
        verify.add_argument("--wait", action="store_true", help="Wait for the job; exit with its outcome.")
        verify.add_argument("--json", action="store_true")

    def do_list(self, *, json: bool, **_) -> None:
        peers = list(peer_list())
        if json:
            self.stdout.write(dumps([peer_json(peer) for peer in peers]))
            return
        if not peers:
            self.stdout.write("No peers yet; `peers add NAME URL --token-file FILE` registers one.")
        for peer in peers:
            verified = "never verified" if peer.last_ok is None else ("verified" if peer.last_ok else "FAILED")
            when = f" {peer.last_verified_at:%Y-%m-%d %H:%M}" if peer.last_verified_at else ""
            key = peer.signing_key_fingerprint or "no signing key yet"
            self.stdout.write(f"{peer.name:<20} {peer.base_url:<40} {key}  {verified}{when}")
            if peer.last_result and not peer.last_ok:
                self.stdout.write(f"{'':<20} {peer.last_result}")

    def do_add(self, *, name: str, url: str, token_file: str, json: bool, **_) -> None:
        saved = services.peer_add(name=name, base_url=url, token=token_read(token_file), actor=None, source=source())
        if json:
            self.stdout.write(dumps({**peer_json(saved.item), "job": saved.job.pk if saved.job else None}))
            return
        self.stdout.write(f"The peer {saved.item} {saved.note}")
        if saved.job is not None:
            self.stdout.write(f"`peers verify {name} --wait` waits for the answer; `jobs show {saved.job.pk}` shows it.")

    def do_verify(self, *, name: str, wait: bool, json: bool, **_) -> None:
        job = services.verify_start(peer=name, actor=None, source=source())
        if not wait:
            self.job_print(job, json)
            return
        if not json:
            self.stdout.write(f"Started {job}; waiting for it to finish.")
        job: Job = self.job_wait(job, quiet=json)
        self.job_print(job, json)
        self.job_exit(job)
