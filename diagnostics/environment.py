"""Checks of how this instance is deployed: settings and the data dir (no database, so `manage.py check` runs them)."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from typing import ClassVar

from django.conf import settings

from diagnostics.base import CRITICAL, WARNING, Diagnostic, DiagnosticCheck

GIB = 1024**3


@dataclasses.dataclass
class EmbeddedRedis(DiagnosticCheck):
    """The embedded Redis (no REDIS_URL) in production."""

    production: ClassVar[bool] = True

    def run(self) -> Iterator[Diagnostic]:
        if settings.PRODUCTION and settings.REDIS_EMBEDDED:
            yield Diagnostic(
                "embedded-redis-in-production",
                WARNING,
                "CHLOPS_ENV is production but Redis is the embedded one: it lives and dies with this host's "
                "processes, is not persisted like a managed Redis and cannot be shared by several hosts.",
                "Run a Redis server and set REDIS_URL (redis://host:6379/0) for every process.",
            )


@dataclasses.dataclass
class SqliteDatabase(DiagnosticCheck):
    """SQLite as the database in production."""

    production: ClassVar[bool] = True

    def run(self) -> Iterator[Diagnostic]:
        if settings.PRODUCTION and settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
            yield Diagnostic(
                "sqlite-in-production",
                WARNING,
                "CHLOPS_ENV is production but the database is SQLite: one writer at a time, on this host only.",
                "Set DATABASE_URL to a PostgreSQL database (postgres://user:password@host/chlops) and migrate.",
            )


@dataclasses.dataclass
class DebugInProduction(DiagnosticCheck):
    """DEBUG on in production."""

    production: ClassVar[bool] = True

    def run(self) -> Iterator[Diagnostic]:
        if settings.PRODUCTION and settings.DEBUG:
            yield Diagnostic(
                "debug-in-production",
                CRITICAL,
                "DEBUG is on in production: an error page shows settings, paths and the code to whoever causes it.",
                "Unset CHLOPS_DEBUG and restart every process.",
            )


@dataclasses.dataclass
class SecretKeyGenerated(DiagnosticCheck):
    """A secret key generated into the data dir rather than set, in production."""

    production: ClassVar[bool] = True

    def run(self) -> Iterator[Diagnostic]:
        if settings.PRODUCTION and settings.SECRET_KEY_GENERATED:
            yield Diagnostic(
                "secret-key-generated",
                CRITICAL,
                f"CHLOPS_SECRET_KEY is not set, so the secret key was generated into {settings.DATA_DIR / 'secret-key'}: "
                "a host with another data dir signs sessions with another key, and a copy of the data dir has it.",
                "Set CHLOPS_SECRET_KEY from your secret store (the same for every process) and restart them.",
            )


@dataclasses.dataclass
class DataDirSpace(DiagnosticCheck):
    """Free space in the data dir: under 5 % or under 1 GiB."""

    min_fraction: float = 0.05
    min_bytes: int = GIB

    def run(self) -> Iterator[Diagnostic]:
        try:
            usage = shutil.disk_usage(settings.DATA_DIR)
        except OSError as exc:
            yield Diagnostic(
                "data-dir-unreadable",
                CRITICAL,
                f"The data dir {settings.DATA_DIR} cannot be read: {exc.strerror or exc.__class__.__name__}.",
                "Make it exist and belong to the user running CHL Ops (CHLOPS_DATA_DIR names it).",
            )
            return
        fraction = usage.free / usage.total if usage.total else 0.0
        if fraction < self.min_fraction or usage.free < self.min_bytes:
            yield Diagnostic(
                "data-dir-space",
                CRITICAL if usage.free < self.min_bytes / 4 else WARNING,
                f"The data dir {settings.DATA_DIR} has {_size(usage.free)} free ({fraction:.1%} of {_size(usage.total)}), "
                f"under {self.min_fraction:.0%} or {_size(self.min_bytes)}: imports, snapshots and index builds will fail.",
                "Free space there (old snapshots and exports first) or move CHLOPS_DATA_DIR to a larger disk.",
            )


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


PRODUCTION = (EmbeddedRedis(), SqliteDatabase(), DebugInProduction(), SecretKeyGenerated())
ALL = (*PRODUCTION, DataDirSpace())
