"""The seed's rules (DESIGN §11), there from the first run; superusers change them afterwards."""

from __future__ import annotations

from django.db import migrations

DEFAULTS = [
    # name, metric, module, comparison, threshold, for_seconds, clear_threshold, severity
    ("Error rate above 5 %", "error_rate", "", ">", 5.0, 60, 4.0, "critical"),
    ("p95 response time above 500 ms", "p95_latency", "", ">", 500.0, 60, 400.0, "warning"),
    ("Queue length above 100", "queue_length", "", ">", 100.0, 30, 80.0, "warning"),
    ("Cache hit rate below 50 %", "cache_hit_rate", "", "<", 50.0, 300, 60.0, "info"),
    ("Worker health degraded", "worker_health", "", ">=", 1.0, 30, 1.0, "warning"),
    ("Module down", "module_status", "", ">=", 2.0, 0, 2.0, "critical"),
]


def rules_create(apps, schema_editor):
    rule = apps.get_model("alerts", "AlertRule")
    for name, metric, module, comparison, threshold, for_seconds, clear, severity in DEFAULTS:
        rule.objects.get_or_create(
            name=name,
            defaults={
                "metric": metric, "module": module, "comparison": comparison, "threshold": threshold,
                "for_seconds": for_seconds, "clear_threshold": clear, "severity": severity,
            },
        )  # fmt: skip


def rules_delete(apps, schema_editor):
    apps.get_model("alerts", "AlertRule").objects.filter(name__in=[row[0] for row in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]
    operations = [migrations.RunPython(rules_create, rules_delete)]
