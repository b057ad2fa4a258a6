"""Indexes for a million jobs: the changelist's order and date navigation, and the unfinished jobs.

`type` and `requested_by` lose their single-column indexes, which the new composite ones lead with.
On SQLite, Django would rebuild the whole table to drop them (AlterField remakes it); only the
indexes are dropped here, found by introspection (PostgreSQL has a second, `_like`, one on `type`).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def single_column_indexes_drop(apps, schema_editor):
    job = apps.get_model("operations", "Job")
    for column in ("type", "requested_by_id"):
        with schema_editor.connection.cursor() as cursor:
            found = schema_editor.connection.introspection.get_constraints(cursor, job._meta.db_table)
        for name, info in found.items():
            if info["index"] and not info["unique"] and not info["primary_key"] and info["columns"] == [column]:
                schema_editor.execute(schema_editor._delete_index_sql(job, name))


def single_column_indexes_create(apps, schema_editor):
    job = apps.get_model("operations", "Job")
    for name in ("type", "requested_by"):
        schema_editor.execute(schema_editor._create_index_sql(job, fields=[job._meta.get_field(name)]))


def statistics_refresh(apps, schema_editor):
    # SQLite plans from sqlite_stat1 when it exists; an index it has no line for is taken as more
    # selective than it is, so a database that was analyzed once is analyzed again for the new ones.
    connection = schema_editor.connection
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone():
            cursor.execute("ANALYZE operations_job")


class Migration(migrations.Migration):

    dependencies = [
        ('operations', '0002_groups'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='job',
                    name='requested_by',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
                ),
                migrations.AlterField(
                    model_name='job',
                    name='type',
                    field=models.CharField(max_length=32),
                ),
            ],
            database_operations=[
                migrations.RunPython(single_column_indexes_drop, single_column_indexes_create),
            ],
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(fields=['created_at'], name='job_created'),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(fields=['state', 'created_at'], name='job_state_created'),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(fields=['type', 'created_at'], name='job_type_created'),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(fields=['requested_by', 'created_at'], name='job_requester_created'),
        ),
        migrations.AddIndex(
            model_name='job',
            index=models.Index(condition=models.Q(('state__in', ['queued', 'running', 'cancelling'])), fields=['type', 'id'], name='job_active_type'),
        ),
        migrations.RunPython(statistics_refresh, migrations.RunPython.noop),
    ]
