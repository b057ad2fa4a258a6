"""Make the audit log append-only in the database itself, and index the auditors' usual filter."""

from __future__ import annotations

from django.conf import settings
from django.db import migrations, models


def install(apps, schema_editor):
    from audit.triggers import triggers_install

    triggers_install(schema_editor.connection)


def drop(apps, schema_editor):
    from audit.triggers import triggers_drop

    triggers_drop(schema_editor.connection, functions=True)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="auditlog",
            index=models.Index(fields=["actor", "action", "-created_at"], name="audit_actor_action_created"),
        ),
        # On SQLite, any later migration that remakes this table drops these triggers; the app's
        # post_migrate handler (audit.triggers.triggers_ensure) puts them back.
        migrations.RunPython(install, drop),
    ]
