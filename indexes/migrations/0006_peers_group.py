"""Create the Peers group (DESIGN §7) now that its permission, indexes.sync_peers, exists."""

from __future__ import annotations

from django.db import migrations


def create_groups(apps, schema_editor):
    from operations.groups import groups_ensure

    groups_ensure(apps=apps)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Peers").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("indexes", "0005_credential_peer"),
        ("operations", "0002_groups"),
        ("audit", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, remove_group)]
