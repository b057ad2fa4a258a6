"""`snapshots list|create|export ID FILE|import FILE|restore ID`: index snapshots from cron and scripts."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from audit.services import audit_record
from indexes.snapshots.restore import restore_start
from indexes.snapshots.selectors import snapshot_json, snapshots_list
from indexes.snapshots.services import snapshot_get, snapshot_import, snapshot_refused, staging_area
from indexes.snapshots.storage import snapshot_file
from operations import services
from operations.commands import ActionCommand, dumps


class Command(ActionCommand):
    help = (
        "List, create, export, import and restore index snapshots. "
        "Exit codes: 0 ok, 1 failed, 2 bad usage or refused, 3 cancelled or not found, 4 lock conflict."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        listing = sub.add_parser("list", help="List snapshots, newest first.")
        listing.add_argument("--json", action="store_true")
        create = sub.add_parser("create", help="Start a snapshot job.")
        create.add_argument("--wait", action="store_true", help="Wait for the job; exit with its outcome.")
        create.add_argument("--json", action="store_true")
        export = sub.add_parser("export", help="Copy a snapshot's ZIP to FILE.")
        export.add_argument("id", type=int)
        export.add_argument("file")
        restore = sub.add_parser("restore", help="Start a restore job (asks for the snapshot's name on a terminal).")
        restore.add_argument("id", type=int)
        restore.add_argument("--confirm", metavar="NAME", help="The snapshot's name, to confirm without a prompt.")
        restore.add_argument("--wait", action="store_true", help="Wait for the job; exit with its outcome.")
        restore.add_argument("--json", action="store_true")
        upload = sub.add_parser("import", help="Validate a snapshot ZIP and add it to the snapshots.")
        upload.add_argument("file")
        upload.add_argument("--json", action="store_true")

    def do_list(self, *, json: bool, **_) -> None:
        rows = [snapshot_json(s) for s in snapshots_list()]
        if json:
            self.stdout.write(dumps(rows))
            return
        if not rows:
            self.stdout.write("No snapshots yet; `snapshots create` saves the served index.")
        for row in rows:
            self.stdout.write(
                f"{row['id']:>5}  {row['name']:<32} v{row['version']}  {row['vectors']} vectors  "
                f"{row['size_bytes']} bytes  {row['created_at'][:19]}"
            )

    def do_create(self, *, wait: bool, json: bool, **_) -> None:
        source = "cli" if sys.stdin.isatty() else "cron"
        job = services.job_start(type="snapshot", params={}, source=source)
        if wait:
            job = self.job_wait(job, quiet=json)
        self.job_print(job, json)
        if wait:
            self.job_exit(job)

    def do_export(self, *, id: int, file: str, **_) -> None:
        snapshot = snapshot_get(snapshot_id=id)
        target = Path(file)
        if target.is_dir():
            target = target / f"{snapshot.name}.zip"
        if not target.parent.is_dir():
            raise CommandError(
                f"The folder {target.parent} does not exist; create it or pick another FILE.", returncode=2
            )
        shutil.copyfile(snapshot_file(relative=snapshot.path), target)
        audit_record(
            action="snapshot.export",
            source="cli" if sys.stdin.isatty() else "cron",
            target=snapshot.name,
            details={"snapshot_id": snapshot.pk, "file": str(target), "bytes": target.stat().st_size},
        )
        self.stdout.write(f"Wrote {snapshot.name} to {target} ({target.stat().st_size} bytes).")

    def do_import(self, *, file: str, json: bool, **_) -> None:
        source = "cli" if sys.stdin.isatty() else "cron"
        path, limit = Path(file), settings.CHLOPS_SNAPSHOT_MAX_BYTES
        if not path.is_file():
            raise CommandError(f"There is no file {file}; give the path of a snapshot ZIP.", returncode=2)
        with staging_area() as staged:
            if path.stat().st_size > limit:
                message = f"The snapshot was refused: it is larger than {limit} bytes (CHLOPS_SNAPSHOT_MAX_BYTES)."
                snapshot_refused(reason=message, filename=path.name, actor=None, source=source)
                raise CommandError(message, returncode=2)
            shutil.copyfile(path, staged / "upload.zip")
            snapshot = snapshot_import(
                zip_path=staged / "upload.zip", staged=staged, filename=path.name, actor=None, source=source
            )
        if json:
            self.stdout.write(dumps(snapshot_json(snapshot)))
        else:
            self.stdout.write(f"Imported {path.name} as snapshot {snapshot.pk} {snapshot.name}.")

    def do_restore(self, *, id: int, confirm: str | None, wait: bool, json: bool, **_) -> None:
        snapshot = snapshot_get(snapshot_id=id)
        tty = sys.stdin.isatty()
        if confirm is None:
            if not tty:
                raise CommandError(
                    f"Pass --confirm {snapshot.name} to restore this snapshot; it replaces the served index.",
                    returncode=2,
                )
            confirm = input(f"Restoring replaces the served index. Type the snapshot's name ({snapshot.name}): ")
        job = restore_start(snapshot_id=id, confirm=confirm, actor=None, source="cli" if tty else "cron")
        if wait:
            job = self.job_wait(job, quiet=json)
        self.job_print(job, json)
        if wait:
            self.job_exit(job)
