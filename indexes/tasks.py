"""Celery tasks of the embedding pipeline: interfaces that call one service."""

from __future__ import annotations

from celery import shared_task

from indexes.services import embedding


@shared_task(name="indexes.tasks.embed_dispatch", ignore_result=True)
def embed_dispatch() -> int:
    return embedding.embedding_dispatch()


@shared_task(name=embedding.EMBED_BATCH, ignore_result=True)
def embed_batch(ids: list[int], batch_id: str) -> dict[str, int]:
    return embedding.embed_batch_run(ids=ids, batch_id=batch_id)
