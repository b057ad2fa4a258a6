"""`audit verify | export | prune`: check the hash chain, stream rows out, drop old rows behind an anchor."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, time
from json import dumps
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from audit.exports import FORMATS
from audit.selectors import auditlog_verify
from audit.services import auditlog_export_write, auditlog_prune
from audit.triggers import triggers_missing
from chlops.exceptions import ChlopsError

USAGE = 2


def parse_moment(value: str | None, *, option: str) -> datetime | None:
    """Read YYYY-MM-DD or an ISO datetime; naive values are in the site's time zone."""
    if value is None:
        return None
    try:
        moment = parse_datetime(value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime.combine(day, time.min)
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(
            f"{option} {value!r} is not a date: use YYYY-MM-DD or an ISO datetime such as 2024-05-01T12:00:00Z.",
            returncode=USAGE,
        )
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class _Unterminated:
    """Write through a command's stdout without the newline it adds to every write."""

    def __init__(self, out: OutputWrapper) -> None:
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text, ending="")


class Command(BaseCommand):
    help = "Verify the audit log's hash chain, export its rows, or prune old rows behind an anchor."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="{verify,export,prune}")
        verify = commands.add_parser("verify", help="walk the hash chain; exit 1 at the first row that does not hold")
        verify.add_argument("--json", action="store_true", help='print {"intact", "rows", "first_bad"}')
        export = commands.add_parser("export", help="stream rows as CSV or JSON Lines, oldest first")
        export.add_argument("--since", help="only rows created at or after this date or datetime")
        export.add_argument("--until", help="only rows created before this date or datetime")
        export.add_argument(
            "--format",
            choices=FORMATS,
            default="csv",
            help="csv for spreadsheets (a cell that would start a formula gets a leading '); jsonl keeps values exact",
        )
        export.add_argument("-o", "--output", help="write to this file (atomically) instead of stdout")
        prune = commands.add_parser("prune", help="delete rows created before a date, keeping the chain verifiable")
        prune.add_argument("--before", required=True, help="delete rows created before this date or datetime")
        prune.add_argument("--dry-run", action="store_true", help="only say how many rows would go")
        prune.add_argument("--json", action="store_true")

    def handle(self, *args: str, subcommand: str, **options: object) -> None:
        try:
            getattr(self, f"handle_{subcommand}")(**options)
        except ChlopsError as error:
            raise CommandError(error.message, returncode=error.exit_code) from error

    def handle_verify(self, *, json: bool, **options: object) -> None:
        report = auditlog_verify()
        missing = triggers_missing(connection)
        if missing:
            self.stderr.write(
                f"warning: the append-only triggers are missing ({', '.join(missing)}); "
                "run `python manage.py migrate` to put them back."
            )
        if json:
            self._print_json(
                {"intact": report.intact, "rows": report.rows, "first_bad": report.first_bad, "reason": report.reason}
            )
        elif report.intact:
            self.stdout.write(f"intact: {report.rows} rows")
        if not report.intact:
            raise CommandError(
                f"broken at row #{report.first_bad}: {report.reason}; the {report.rows} rows before it are intact.",
                returncode=1,
            )

    def handle_export(
        self, *, since: str | None, until: str | None, format: str, output: str | None, **options: object
    ) -> None:
        since_at = parse_moment(since, option="--since")
        until_at = parse_moment(until, option="--until")
        if since_at and until_at and since_at >= until_at:
            raise CommandError("--since must be before --until.", returncode=USAGE)
        if output is None:
            auditlog_export_write(stream=_Unterminated(self.stdout), format=format, since=since_at, until=until_at)
            return
        path = Path(output).resolve()
        if not path.parent.is_dir():
            raise CommandError(f"cannot write {output}: the directory {path.parent} does not exist.", returncode=USAGE)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
                rows = auditlog_export_write(
                    stream=stream, format=format, since=since_at, until=until_at, target=str(path)
                )
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.stderr.write(f"exported {rows} rows to {path}")

    def handle_prune(self, *, before: str, dry_run: bool, json: bool, **options: object) -> None:
        cutoff = parse_moment(before, option="--before")
        result = auditlog_prune(before=cutoff, dry_run=dry_run)
        if json:
            self._print_json(
                {
                    "dry_run": dry_run,
                    "before": cutoff.isoformat(),
                    "deleted": result.deleted,
                    "anchor": result.anchor.pk if result.anchor else None,
                    "first_kept_id": result.first_kept_id,
                }
            )
        elif dry_run:
            self.stdout.write(f"would prune {result.deleted} rows created before {cutoff.isoformat()}.")
        else:
            self.stdout.write(
                f"pruned {result.deleted} rows created before {cutoff.isoformat()}; "
                f"anchor #{result.anchor.pk} vouches for row #{result.first_kept_id}, where the chain now starts."
            )

    def _print_json(self, value: dict) -> None:
        self.stdout.write(dumps(value))
