"""The Operators, Auditors and Peers groups and their permissions (DESIGN §7)."""

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
    # The accounts other CHL Ops instances call /api/sync/* with: not staff, nothing else.
    "Peers": [
        ("indexes", "sync_peers"),
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
        # A permission of a model that a later migration creates is not there yet; that migration
        # calls this again (indexes 0006 for the Peers group's).
        found = [Permission.objects.filter(content_type__app_label=app, codename=codename).first() for app, codename in perms]
        group.permissions.set([permission for permission in found if permission is not None])
