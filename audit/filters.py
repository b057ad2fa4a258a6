"""Changelist filters whose choices come from index hops, not from scanning millions of rows."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.models import AuditLog
from audit.selectors import auditlog_actor_names
from chlops.changelists import distinct_values

SYSTEM = "system"


class ActorFilter(admin.SimpleListFilter):
    title = "actor"
    parameter_name = "actor"
    limit = 100  # past this many, pick an actor by searching its username instead

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        actor_ids = distinct_values(AuditLog, column="actor_id", limit=self.limit)
        User = get_user_model()
        names = dict(User.objects.filter(pk__in=actor_ids).values_list("pk", User.USERNAME_FIELD))
        gone = [actor_id for actor_id in actor_ids if actor_id not in names]
        names.update(auditlog_actor_names(actor_ids=gone))
        choices = sorted(((str(pk), name) for pk, name in names.items()), key=lambda choice: choice[1].lower())
        return [*choices, (SYSTEM, "system (no user)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value is None:
            return queryset
        if value == SYSTEM:
            return queryset.filter(actor__isnull=True)
        if not value.isdigit():
            raise IncorrectLookupParameters(f"actor must be a user id or {SYSTEM!r}")
        return queryset.filter(actor_id=int(value))


class ActionFilter(admin.SimpleListFilter):
    title = "action"
    parameter_name = "action"
    limit = 200

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(action, action) for action in distinct_values(AuditLog, column="action", limit=self.limit)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset if value is None else queryset.filter(action=value)
