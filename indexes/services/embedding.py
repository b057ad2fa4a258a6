"""Embed entries: batches from the `embed` queue, the dispatcher that sends them, retries and the `embed` job."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from chlops.celery import app
from indexes.embedders import claims, embedder_get
from indexes.embedders.base import Embedder
from indexes.models import EmbeddingState, Entry
from operations import broadcasts
from operations.services import Draining, ensure_not_draining

logger = logging.getLogger(__name__)

CARD = "embedding-card"
# Sent by name: the task module imports this one.
EMBED_BATCH = "indexes.tasks.embed_batch"
CARD_PUSH_EVERY = 0.5  # seconds: at most ~2 pushes a second per process
NO_TEXT = "This entry has no text to embed: its title and body are empty. Add a title or body, then retry."
SCAN_LIMIT = 50_000  # pending ids a dispatch looks through for unclaimed ones

_last_push = 0.0


def entry_text(*, title: str, body: str) -> str:
    text = f"{title}\n\n{body}" if title and body else title or body
    return text[: settings.CHLOPS_EMBED_MAX_CHARS]


def embed_batch_size() -> int:
    """Entries per batch: the setting, capped by what the embedder can do between two checkpoints."""
    return max(1, min(settings.CHLOPS_EMBED_BATCH_SIZE, embedder_get().batch_size))


def entries_embed(*, ids: Sequence[int], states: Sequence[str] | None = (EmbeddingState.PENDING,)) -> dict[str, int]:
    """Embed the given entries (those still in `states`; any state when None) and store vectors or reasons.

    An entry edited while its batch ran keeps its new state: vectors are written only where the
    content hash is still the one that was embedded.
    """
    rows = Entry.objects.filter(pk__in=list(ids))
    if states is not None:
        rows = rows.filter(embedding_state__in=list(states))
    rows = list(rows.order_by("pk").values_list("pk", "title", "body", "content_hash"))
    if not rows:
        return {"embedded": 0, "failed": 0, "skipped": len(ids)}
    embedder = embedder_get()
    vectors, errors = _vectors(embedder, [entry_text(title=t, body=b) for _, t, b, _ in rows])
    now = timezone.now()
    embedded = failed = 0
    with transaction.atomic():
        for (pk, _title, _body, content_hash), vector, error in zip(rows, vectors, errors, strict=True):
            same = Entry.objects.filter(pk=pk, content_hash=content_hash)
            if error:
                failed += same.update(
                    embedding_state=EmbeddingState.FAILED, embedding_error=error, embedding=None, embedded_at=None
                )
            else:
                embedded += same.update(
                    embedding_state=EmbeddingState.READY,
                    embedding_error="",
                    embedding=vector.astype(np.float32).tobytes(),
                    embedding_model=embedder.model_id,
                    embedded_at=now,
                )
        transaction.on_commit(embedding_card_push)
    try:
        claims.stats_publish(embedder.stats())
    except Exception:  # noqa: BLE001 — stats are best effort; the vectors are already committed
        logger.warning("embedder stats not published: Redis is unavailable", exc_info=settings.DEBUG)
    return {"embedded": embedded, "failed": failed, "skipped": len(ids) - embedded - failed}


def _vectors(embedder: Embedder, texts: list[str]) -> tuple[list[np.ndarray | None], list[str]]:
    """Embed texts together; if the batch fails, one by one, so that one bad entry fails alone."""
    try:
        matrix = embedder.embed(texts)
        rows: list[np.ndarray | None] = list(matrix)
        errors = ["" for _ in texts]
    except Exception:  # noqa: BLE001 — isolate the entry that makes the embedder fail
        logger.warning("an embedding batch failed; embedding its %d entries one by one", len(texts), exc_info=True)
        rows, errors = [], []
        for text in texts:
            try:
                rows.append(embedder.embed([text])[0])
                errors.append("")
            except Exception as exc:  # noqa: BLE001
                rows.append(None)
                errors.append(f"The {embedder.model_id} embedder failed on this entry: {exc.__class__.__name__}: {exc}")
    for i, row in enumerate(rows):
        if row is not None and not errors[i] and not np.any(row):
            errors[i] = NO_TEXT
    return rows, errors


def embed_batch_run(*, ids: Sequence[int], batch_id: str) -> dict[str, int]:
    """Embed one dispatched batch and give up its claims, whatever happens."""
    try:
        return entries_embed(ids=ids)
    finally:
        claims.entries_release(ids=ids)
        claims.batch_finished(batch_id=batch_id)


def embedding_dispatch() -> int:
    """Send pending entries nobody holds to the `embed` queue in batches; return how many batches were sent.

    Safe to run from many processes at once: one holds the dispatch lock, the others return 0, and
    each entry is claimed in Redis before it is sent, so it is in at most one batch at a time.
    """
    if claims.card_dirty_take():
        embedding_card_push(force=True)
    try:
        ensure_not_draining()
    except Draining:
        return 0  # a drain waits for the embed queue to empty: send it nothing new meanwhile
    lock = claims.dispatch_lock()
    if not lock.acquire():
        return 0
    sent = 0
    try:
        room = settings.CHLOPS_EMBED_MAX_IN_FLIGHT - claims.batches_in_flight()
        size = embed_batch_size()
        for ids in _unclaimed_pending(limit=max(room, 0) * size):
            for start in range(0, len(ids), size):
                batch_id = uuid.uuid4().hex
                claimed = claims.entries_claim(ids=ids[start : start + size], owner=batch_id)
                if claimed:
                    claims.batch_sent(batch_id=batch_id)
                    app.send_task(EMBED_BATCH, args=[claimed, batch_id], ignore_result=True)
                    sent += 1
    finally:
        lock.release()
    return sent


def _unclaimed_pending(*, limit: int) -> Iterable[list[int]]:
    """Yield lists of pending entry ids that no batch holds, oldest first, `limit` in all."""
    cursor, scanned = 0, 0
    while limit > 0 and scanned < SCAN_LIMIT:
        ids = list(
            Entry.objects.filter(embedding_state=EmbeddingState.PENDING, pk__gt=cursor)
            .order_by("pk")
            .values_list("pk", flat=True)[:2000]
        )
        if not ids:
            return
        cursor, scanned = ids[-1], scanned + len(ids)
        free = claims.entries_unclaimed(ids=ids)[:limit]
        limit -= len(free)
        if free:
            yield free


def entries_embedding_retry(*, ids: Iterable[int], actor: Any = None, source: str, request=None) -> int:
    """Make failed (or stale) entries pending again so that the pipeline embeds them; audited."""
    ids = list(ids)
    with transaction.atomic():
        count = (
            Entry.objects.filter(pk__in=ids)
            .exclude(embedding_state=EmbeddingState.PENDING)
            .update(embedding_state=EmbeddingState.PENDING, embedding_error="")
        )
        audit_record(
            action="embedding.retry",
            source=source,
            actor=actor,
            target=",".join(map(str, ids[:20])) + ("…" if len(ids) > 20 else ""),
            details={"entries": len(ids), "made_pending": count},
            request=request,
        )
        transaction.on_commit(lambda: embedding_card_push(force=True))
    return count


def stale_entries(*, model_id: str | None = None):
    """Ready entries whose vectors come from another embedder than the current one."""
    model_id = model_id or embedder_get().model_id
    return Entry.objects.filter(embedding_state=EmbeddingState.READY).exclude(embedding_model=model_id)


def embeddings_mark_stale(
    *, kinds: Sequence[str] = (), actor: Any = None, source: str = "system", correlation_id=None
) -> int:
    """Make entries embedded by another embedder pending; return how many; audited when any were."""
    model_id = embedder_get().model_id
    stale = stale_entries(model_id=model_id)
    if kinds:
        stale = stale.filter(kind__in=kinds)
    with transaction.atomic():
        count = stale.update(embedding_state=EmbeddingState.PENDING, embedding_error="")
        if count:
            audit_record(
                action="embedding.mark_stale",
                source=source,
                actor=actor,
                target=model_id,
                details={"entries": count, "embedder": model_id, "kinds": list(kinds)},
                correlation_id=correlation_id,
            )
            transaction.on_commit(lambda: embedding_card_push(force=True))
    return count


def embed_job(ctx, params: dict[str, Any]) -> dict[str, Any]:
    """The `embed` job: embed pending, failed and stale entries (every entry with `all`), batch by batch."""
    kinds, everything = params.get("kinds") or [], bool(params.get("all"))
    stale = embeddings_mark_stale(kinds=kinds, source="system", correlation_id=ctx.correlation_id)
    if stale:
        ctx.log(f"{stale} entries were embedded with another embedder and are pending again.", entries=stale)
    todo = Entry.objects.filter(kind__in=kinds) if kinds else Entry.objects.all()
    if not everything:
        todo = todo.filter(Q(embedding_state=EmbeddingState.PENDING) | Q(embedding_state=EmbeddingState.FAILED))
    total = todo.count()
    owner = f"job-{ctx.job.pk}"
    done = embedded = failed = 0
    cursor = 0
    ctx.progress(0, total, phase="embedding")
    while True:
        ctx.checkpoint()
        ids = list(todo.filter(pk__gt=cursor).order_by("pk").values_list("pk", flat=True)[: embed_batch_size()])
        if not ids:
            break
        cursor = ids[-1]
        # Entries a dispatched batch holds are that batch's to embed; counting them here keeps `done` honest.
        mine = claims.entries_claim(ids=ids, owner=owner)
        try:
            result = entries_embed(
                ids=mine, states=None if everything else (EmbeddingState.PENDING, EmbeddingState.FAILED)
            )
        finally:
            claims.entries_release(ids=mine)
        embedded, failed, done = embedded + result["embedded"], failed + result["failed"], done + len(ids)
        total = max(total, done)
        ctx.progress(done, total)
    ctx.progress(done, total, phase="done")
    embedding_card_push(force=True)
    return {
        "entries": done,
        "embedded": embedded,
        "failed": failed,
        "marked_stale": stale,
        "embedder": embedder_get().model_id,
    }


def embedding_card_push(*, force: bool = False) -> None:
    """Push the embedding card to dashboards, at most ~2 times a second per process.

    A skipped push marks the card dirty; the next dispatch tick pushes it, so the last state always arrives.
    """
    global _last_push
    now = time.monotonic()
    if not force and now - _last_push < CARD_PUSH_EVERY:
        try:
            claims.card_dirty_mark()
        except Exception:  # noqa: BLE001 — live updates are best effort
            logger.debug("could not mark the embedding card dirty", exc_info=True)
        return
    _last_push = now
    broadcasts.card_changed(CARD)
