"""`workers list|pause [NAME]|resume [NAME]|drain [--timeout S]`: worker control from cron and scripts."""

from __future__ import annotations

import sys

from django.core.management.base import CommandParser

from operations import services, workers
from operations.commands import ActionCommand, dumps


class Command(ActionCommand):
    help = (
        "List, pause, resume and drain Celery workers. "
        "Exit codes: 0 done, 1 failed or a worker did not answer, 2 bad usage, 3 cancelled, 4 a drain is already running."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        listing = sub.add_parser("list", help="List workers and their last heartbeat.")
        listing.add_argument("--json", action="store_true")
        for name in ("pause", "resume"):
            p = sub.add_parser(name, help=f"{name.capitalize()} one worker by hostname, or all of them.")
            p.add_argument("name", nargs="?", help="Worker hostname, e.g. extra@host; all workers when omitted.")
            p.add_argument("--json", action="store_true")
        drain = sub.add_parser(
            "drain", help="Refuse new work, wait for the queues to empty (or the timeout), then pause."
        )
        drain.add_argument("--timeout", default="300", help="Seconds, 1 to 86,400 (default 300).")
        drain.add_argument("--no-wait", action="store_true", help="Start the drain job and return.")
        drain.add_argument("--json", action="store_true")

    def do_list(self, *, json: bool, **_) -> None:
        rows = workers.roster().listing()
        if json:
            self.stdout.write(dumps(rows))
            return
        if not rows:
            self.stdout.write(
                "No worker has ever beaten. Start one: celery -A chlops worker -n extra@%h -Q jobs,embed,control"
            )
            return
        for w in rows:
            running = ", ".join(f"{j['type']} #{j['id']}" for j in w["active"]) or "idle"
            self.stdout.write(
                f"{w['hostname']:<32} {w['state']:<9} {w['kind']:<6} {','.join(w['queues']) or '-':<20} "
                f"{running:<20} processed={w['processed']} failed={w['failed']} last beat {w['heartbeat_age_seconds']:.0f} s ago"
            )

    def do_pause(self, *, name: str | None, json: bool, **_) -> None:
        self._control(workers.workers_pause, name, json)

    def do_resume(self, *, name: str | None, json: bool, **_) -> None:
        self._control(workers.workers_resume, name, json)

    def _control(self, control, name: str | None, as_json: bool) -> None:
        answer = control(workers=[name] if name else None, source=source())
        self.stdout.write(dumps(answer.as_json()) if as_json else answer.sentence())
        if answer.missing:
            sys.exit(1)

    def do_drain(self, *, timeout: str, no_wait: bool, json: bool, **_) -> None:
        job = services.job_start(type="drain", params={"timeout": timeout}, source=source())
        if not json:
            self.stdout.write(f"Started {job}; new work is refused while it runs.")
        if no_wait:
            return
        job = self.job_wait(job, quiet=json, describe=lambda j: f"remaining {max(0, (j.total or 0) - j.done)}")
        self.stdout.write(dumps(job.result or {"state": job.state, "error": job.error}))
        self.job_exit(job)


def source() -> str:
    return "cli" if sys.stdin.isatty() else "cron"
