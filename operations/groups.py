"""The Operators and Auditors groups and their permissions (DESIGN §7)."""

from __future__ import annotations

from django.apps import apps as global_apps

GROUPS = {
    "Operators": [
        ("operations", "view_dashboard"),
        ("operations", "run_jobs"),
        ("operations", "view_job"),
        ("operations", "view_jobhistory"),
        ("operations", "view_upload"),
        ("indexes", "view_entry"),
    ],
    "Auditors": [
        ("operations", "view_dashboard"),
        ("operations", "view_job"),
        ("operations", "view_jobhistory"),
        ("audit", "view_auditlog"),
        ("audit", "export_auditlog"),
    ],
}


def groups_ensure(*, apps=global_apps) -> None:
    """Create the groups with exactly their permissions; safe to call again."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # Historical app configs have no models_module, and create_permissions skips those.
        had = getattr(app_config, "models_module", None)
        app_config.models_module = had or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = had
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in perms]
        )
