"""Read jobs."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from operations import registry
from operations.models import ACTIVE_STATE_NAMES, Job
from operations.registry import JobType

# The condition of the partial index job_active_type, written out: SQLite uses a partial index only
# when the query repeats its condition with the values in the SQL, not as bound parameters.
UNFINISHED = RawSQL(
    f'"{Job._meta.db_table}"."state" IN (' + ", ".join(f"'{state}'" for state in ACTIVE_STATE_NAMES) + ")",
    (),
    output_field=BooleanField(),
)


def job_list(*, state: str | None = None, type: str | None = None) -> QuerySet[Job]:
    qs = Job.objects.select_related("requested_by").order_by("-id")
    if state:
        qs = qs.filter(state=state)
    if type:
        qs = qs.filter(type=type)
    return qs


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    older: int | None  # where the next page starts (`before`), None on the last page


def job_page(*, state: str | None = None, type: str | None = None, before: int | None = None, size: int) -> JobPage:
    """One page of jobs, newest first, by keyset on the id: as fast on page 1,000 as on page 1."""
    qs = job_list(state=state, type=type)
    if before:
        qs = qs.filter(pk__lt=before)
    jobs = list(qs[: size + 1])
    return JobPage(jobs=jobs[:size], older=jobs[size - 1].pk if len(jobs) > size else None)


def job_get(*, job_id: int) -> Job:
    return Job.objects.select_related("requested_by", "retry_of").get(pk=job_id)


def job_latest_per_type() -> list[tuple[JobType, Job | None]]:
    """The latest job of each registered type, for the dashboard card: one index probe per type.

    The probes are one row of scalar subqueries written once, then the jobs by id: built with the ORM,
    compiling the eleven subqueries cost more (9 ms) than running them, on every job's push."""
    types = registry.all_types()
    if not types:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_latest_per_type_sql(len(types)), [t.name for t in types])
        ids = [pk for pk in cursor.fetchone() if pk is not None]
    by_type = {job.type: job for job in Job.objects.select_related("requested_by").filter(pk__in=ids)}
    return [(job_type, by_type.get(job_type.name)) for job_type in types]


@functools.cache
def _latest_per_type_sql(count: int) -> str:
    table, type_column = connection.ops.quote_name(Job._meta.db_table), connection.ops.quote_name("type")
    probe = f"(SELECT id FROM {table} WHERE {type_column} = %s ORDER BY id DESC LIMIT 1)"
    return "SELECT " + ", ".join([probe] * count)


def job_drain_active() -> Job | None:
    """The drain job still queued or running, if any: one probe of the index of unfinished jobs."""
    return Job.objects.filter(UNFINISHED, type="drain").order_by("pk").first()


def job_latest_by_lock(*, type: str, lock_keys: list[str]) -> dict[str, Job]:
    """The latest job of `type` for each lock key (one target each), for status tiles: one query, each key
    a probe of the type's index newest first."""
    if not lock_keys:
        return {}
    newest = [Subquery(Job.objects.filter(type=type, lock_key=key).order_by("-id").values("id")[:1]) for key in lock_keys]
    return {job.lock_key: job for job in Job.objects.filter(pk__in=newest)}
