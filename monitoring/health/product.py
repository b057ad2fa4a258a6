"""Health checks of the product's own work: jobs, ingestion, embeddings, the index, search, the audit chain.

Same shape as the infrastructure checks (django-health-check v4: run() raises ServiceWarning for
degraded, ServiceUnavailable for down); each reads what is stored and never changes it, except the
audit check's bookmark of how far the chain was verified.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from datetime import timedelta

import redis
from django.conf import settings
from django.utils import timezone
from health_check import HealthCheck
from health_check.exceptions import ServiceUnavailable, ServiceWarning

from audit.selectors import auditlog_verify_after
from chlops.redis_clients import redis_client
from indexes.embedders import UnknownEmbedder, embedder_spec
from indexes.models import EmbeddingState, Entry
from indexes.store import index_manifest, served_dir
from monitoring.health.infrastructure import WINDOW, latency_verdict, rate_verdict
from monitoring.metrics import reading, series
from operations import registry
from operations.models import FINISHED_STATES, Job, JobState


def ago(moment: datetime.datetime) -> str:
    minutes = (timezone.now() - moment).total_seconds() / 60
    return f"{minutes:.0f} minutes ago" if minutes < 120 else f"{minutes / 60:.0f} hours ago"


@dataclasses.dataclass
class JobsFlowing(HealthCheck):
    """No running job has gone silent and no job has waited long in the queue."""

    waited: timedelta = dataclasses.field(default=timedelta(minutes=10), repr=False)

    def run(self) -> None:
        now = timezone.now()
        silent_after = 2 * settings.CHLOPS_JOB_STALE_SECONDS
        silent = Job.objects.filter(
            state__in=[JobState.RUNNING, JobState.CANCELLING], heartbeat_at__lt=now - timedelta(seconds=silent_after)
        ).count()
        if silent:
            raise ServiceWarning(
                f"{silent} running job(s) have not beaten for over {silent_after} s: their worker is probably "
                "lost, and the reaper fails them within a minute."
            )
        waiting = Job.objects.filter(state=JobState.QUEUED, created_at__lt=now - self.waited).order_by("created_at").first()
        if waiting is not None:
            raise ServiceWarning(
                f"{waiting} was queued {ago(waiting.created_at)} and has not started: no worker takes the "
                f"{waiting.queue} queue (see workers)."
            )


@dataclasses.dataclass
class RecentRuns(HealthCheck):
    """The latest runs of the module's job types: the latest failed is degraded, the last three is down."""

    module: str = "jobs"
    within: timedelta = dataclasses.field(default=timedelta(hours=24), repr=False)

    def run(self) -> None:
        since = timezone.now() - self.within
        latest: list[Job] = []
        for job_type in registry.all_types():
            if job_type.module == self.module:
                # One index probe (type, created_at) per type, as the latest-runs card does at a million jobs.
                rows = Job.objects.filter(type=job_type.name, state__in=FINISHED_STATES, created_at__gte=since)
                latest.extend(rows.order_by("-created_at")[:3])
        latest = sorted(latest, key=lambda job: job.created_at, reverse=True)[:3]
        if not latest or latest[0].state != JobState.FAILED:
            return
        said = f"it said: {latest[0].error}" if latest[0].error else "it gave no reason"
        if len(latest) == 3 and all(job.state == JobState.FAILED for job in latest):
            raise ServiceUnavailable(f"The last three {self.module} jobs failed; the latest, {latest[0]}, {said}")
        raise ServiceWarning(f"The latest {self.module} job, {latest[0]}, failed {ago(latest[0].created_at)}; {said}")


@dataclasses.dataclass
class EmbeddingsMoving(HealthCheck):
    """The configured embedder is known, entries do not fail to embed, batches succeed and the backlog moves."""

    stalled: timedelta = dataclasses.field(default=timedelta(minutes=10), repr=False)

    def run(self) -> None:
        try:
            embedder_spec()
        except UnknownEmbedder as exc:
            raise ServiceUnavailable(str(exc)) from None
        try:
            batches = reading.recent("embed", [*series.EMBED.keys(), series.OTHER], seconds=WINDOW)
            embedded_lately = reading.recent("embed", [*series.EMBED.keys()], seconds=int(self.stalled.total_seconds()))
        except redis.RedisError:
            batches = embedded_lately = None
        if batches is not None:
            rate_verdict(batches, what="embedding batches", minimum=3, degraded=0.2, down=0.5)
        failed = Entry.objects.filter(embedding_state=EmbeddingState.FAILED).count()
        if failed:
            raise ServiceWarning(f"{failed} entries failed to embed; retry them from the embedding card.")
        old = Entry.objects.filter(embedding_state=EmbeddingState.PENDING, updated_at__lt=timezone.now() - self.stalled)
        if embedded_lately is not None and not embedded_lately.count and old.exists():
            pending = Entry.objects.filter(embedding_state=EmbeddingState.PENDING).count()
            raise ServiceWarning(
                f"{pending} entries wait to be embedded and none was embedded in the last "
                f"{self.stalled.total_seconds() / 60:.0f} minutes: is a worker consuming the embed queue?"
            )


@dataclasses.dataclass
class IndexServed(HealthCheck):
    """An index is served, its files can be read, it matches the embedder, meets its recall target and is fresh."""

    fresh: timedelta = dataclasses.field(default=timedelta(minutes=30), repr=False)

    def run(self) -> None:
        manifest = index_manifest()
        directory = served_dir()
        if manifest is None or directory is None:
            raise ServiceUnavailable("No index has been built yet, so dense search cannot answer: run reindex.")
        for name in sorted(manifest.get("files", {})):
            try:
                with open(directory / name, "rb") as handle:
                    handle.read(1)
            except OSError as exc:
                raise ServiceWarning(
                    f"The served index file {name} cannot be read ({exc.strerror or exc}): processes that loaded "
                    "it keep answering, but a new process or a reload would fail. Restore a snapshot or reindex."
                ) from None
        configured = embedder_spec().model_id
        if manifest.get("embedder") != configured:
            raise ServiceUnavailable(
                f"The served index was built with {manifest.get('embedder')}, but queries are embedded with "
                f"{configured}, so dense search fails: run embed and then reindex."
            )
        recall, target = manifest.get("recall_at_10"), settings.CHLOPS_INDEX_RECALL_TARGET
        if recall is not None and recall < target:
            raise ServiceWarning(f"The served index finds {recall:.0%} of the true top 10 (recall@10), below {target:.0%}.")
        built = datetime.datetime.fromisoformat(manifest["built_at"]) if manifest.get("built_at") else None
        if built is not None and timezone.now() - built > self.fresh:
            newer = Entry.objects.filter(embedding_state=EmbeddingState.READY, embedded_at__gt=built).count()
            if newer:
                raise ServiceWarning(
                    f"{newer} entries were embedded after the index was built {ago(built)}; "
                    "they are not found by dense search until the next reindex."
                )


@dataclasses.dataclass
class SearchAnswering(HealthCheck):
    """Searches of the last five minutes: errors and p95 latency (refused queries are not errors)."""

    minimum: int = dataclasses.field(default=5, repr=False)
    p95_seconds: float = dataclasses.field(default=0.5, repr=False)

    def run(self) -> None:
        try:
            point = reading.recent("search", [*series.SEARCH_MODES, series.OTHER], seconds=WINDOW)
        except redis.RedisError:
            raise ServiceWarning("The search metrics cannot be read: Redis is not answering.") from None
        rate_verdict(point, what="searches", minimum=self.minimum, degraded=0.05, down=0.5)
        latency_verdict(point, what="searches", minimum=self.minimum, p95_seconds=self.p95_seconds)


AUDIT_BOOKMARK = "chlops:health:audit-verified"


@dataclasses.dataclass
class AuditChainHolds(HealthCheck):
    """The audit log's hash chain holds: verified incrementally, from the last row checked to the newest."""

    rows_per_round: int = dataclasses.field(default=5000, repr=False)

    def run(self) -> None:
        report = auditlog_verify_after(after=self._bookmark(), limit=self.rows_per_round)
        if not report.intact:
            raise ServiceUnavailable(
                f"The audit chain is broken at row #{report.first_bad}: {report.reason}. "
                "Run `python manage.py audit verify` and compare with an export."
            )
        if report.last is not None:
            try:
                redis_client().set(AUDIT_BOOKMARK, json.dumps(report.last))
            except redis.RedisError:
                pass  # the next round verifies from its last bookmark again: slower, not wrong

    def _bookmark(self) -> tuple[int, str] | None:
        try:
            raw = redis_client().get(AUDIT_BOOKMARK)
        except redis.RedisError:
            return None
        if not raw:
            return None
        row_id, row_hash = json.loads(raw)
        return int(row_id), str(row_hash)
