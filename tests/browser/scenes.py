"""Pages with something on every card, for the checks that look at a whole page (layout, axe, CSP)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from alerts.models import Alert, AlertState, Silence
from indexes.peers.services import credential_set, peer_add
from indexes.services.reindex import index_rebuild
from indexes.snapshots.services import snapshot_save
from monitoring.collectors.database import slow_query_noted
from monitoring.metrics import RECORDER, series
from operations.models import Job, JobState
from tests.indexes.index_factories import RunCtx, entries_with_vectors, unit_rows

AXE = "node_modules/axe-core/axe.min.js"


@dataclass(frozen=True)
class Scene:
    running: Job
    failed: Job

    def ops_pages(self) -> list[str]:
        return [
            "/admin/ops/",
            f"/admin/ops/jobs/{self.running.pk}/",
            f"/admin/ops/jobs/{self.failed.pk}/",
            "/admin/ops/monitoring/",
            "/admin/ops/monitoring/modules/index/",
            "/admin/ops/monitoring/modules/embeddings/",  # three series in its charts and their data table
            "/admin/ops/alerts/",
            "/admin/ops/settings/",
        ]


def busy_scene(operator, *, seed: int) -> Scene:
    """A served index and a snapshot of it, a running job part way through and a failed one, a credential
    and a peer (each with its verify job), a minute of each of the embeddings module's series, and what the
    Database, Cache and Workers cards show when full (a slow query, cache reads, queue samples)."""
    entries_with_vectors(unit_rows(20, seed=seed), prefix=f"scene{seed}")
    embeddings_recorded()
    credential_set(name=f"git-scene{seed}", kind="git_token", secret="scene-token", actor=operator, source="cli")
    peer_add(name=f"peer{seed}", base_url=f"https://peer{seed}.example.invalid", token="scene-token", actor=operator, source="cli")
    index_rebuild(RunCtx(), {})
    snapshot_save(source="job", actor=operator, correlation_id=None)
    running = Job.objects.create(
        type="canary", state=JobState.RUNNING, phase="ticking", done=3, total=10, requested_by=operator,
        started_at=timezone.now(), params={"seconds": 20},
    )
    failed = Job.objects.create(
        type="import", state=JobState.FAILED, error="The file has no header row; add one and upload it again.",
        requested_by=operator, started_at=timezone.now(), finished_at=timezone.now(), params={"upload": "x"},
    )
    alerts_recorded()
    infra_recorded()
    diagnostics_recorded(operator, seed=seed)
    return Scene(running=running, failed=failed)


def diagnostics_recorded(operator, *, seed: int) -> None:
    """A credential whose file was deleted by hand: a critical diagnostic banner on every ops page (the peer
    at an address that does not resolve gives a warning one once its verify fails)."""
    credential_set(name=f"gone-scene{seed}", kind="git_token", secret="scene-token", actor=operator, source="cli")
    os.unlink(settings.CREDENTIALS_DIR / f"gone-scene{seed}")


def embeddings_recorded() -> None:
    """An embedding batch, an embed job and a health check of the embeddings module, in the store."""
    RECORDER.observe(series.EMBED, "hashing", ("ok",), 0.012)
    RECORDER.observe(series.JOB, "embed", ("succeeded",), 3.5)
    RECORDER.observe(series.CHECK, "embeddings", ("healthy",), 0.004)
    RECORDER.flush()


def infra_recorded() -> None:
    """A slow query in the log, hits and misses of two cache prefixes, and the queue's length sampled."""
    slow_query_noted("SELECT * FROM scene WHERE secret = 'x' AND n IN (1, 2, 3)", 0.25, many=False)
    for prefix, hits, misses in (("views", 9, 1), ("search", 3, 4)):
        RECORDER.count(series.CACHE_HITS, prefix, hits)
        RECORDER.count(series.CACHE_MISSES, prefix, misses)
    RECORDER.gauge(series.QUEUE_LENGTH, 3)
    RECORDER.flush()


def alerts_recorded() -> None:
    """Firing alerts of two severities and a resolved one, one more firing under an active silence, and an expired
    silence; no rule of the evaluator's (it leaves them be)."""
    now = timezone.now()
    shapes = [
        ("critical", "Error rate of web is 7.4 %, above 5 % for 1 minute", AlertState.FIRING),
        ("warning", "Queue length is 130, above 100 for 30 seconds", AlertState.FIRING),
        ("info", "Cache hit rate is 42 %, below 50 % for 5 minutes", AlertState.RESOLVED),
    ]
    for n, (severity, message, state) in enumerate(shapes):
        Alert.objects.create(
            rule=None, module="web", severity=severity, message=message, value=1.0, threshold=1.0, fingerprint=f"scene{n}-{now.timestamp()}",
            state=state, started_at=now, fired_at=now, resolved_at=now if state == AlertState.RESOLVED else None,
            acknowledged_by=None, comment="",
        )  # fmt: skip
    hour = timedelta(hours=1)
    silence = Silence.objects.create(module="cache", starts_at=now, ends_at=now + hour, comment="moving the cache")
    Silence.objects.create(severity="info", starts_at=now - 2 * hour, ends_at=now - hour, ended_early_at=now - hour)
    Alert.objects.create(
        module="cache", severity="warning", message="Cache hit rate is 31 %, below 50 % for 1 minute", threshold=50.0,
        fingerprint=f"scene-silenced-{now.timestamp()}", state=AlertState.FIRING, started_at=now, fired_at=now,
        silenced_by=silence,
    )  # fmt: skip


def open_page(page, path: str) -> object:
    """Go to `path`; on an ops page, wait until the socket's snapshot of every card has arrived."""
    response = page.goto(path)
    if re.match(r"/admin/ops/", path) and page.locator("#ops-live").count():
        page.wait_for_function("() => window.chlopsOps && window.chlopsOps.lastSeq !== null")
    return response
