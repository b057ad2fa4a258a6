"""Create the Operators and Auditors groups with the permissions of DESIGN §7."""

from __future__ import annotations

from django.db import migrations


def create_groups(apps, schema_editor):
    from operations.groups import groups_ensure

    groups_ensure(apps=apps)


def remove_groups(apps, schema_editor):
    from operations.groups import GROUPS

    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0001_initial"),
        ("audit", "0001_initial"),
        ("indexes", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
