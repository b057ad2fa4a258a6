"""The changelist of a LargeTableAdmin (chlops.changelists): the admin's own tags, with counts that
say when they are capped or estimated, and a date hierarchy drawn from index probes."""

from __future__ import annotations

import copy
from typing import Any

from django import template
from django.contrib.admin.templatetags import admin_list
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.contrib.admin.views.main import ChangeList

from chlops.changelists import IndexedDates

register = template.Library()


def indexed_date_hierarchy(cl: ChangeList) -> dict[str, Any]:
    # Django's own tag runs SELECT DISTINCT over the filtered rows: a full scan when unfiltered.
    cheap = copy.copy(cl)
    cheap.queryset = IndexedDates(cl.queryset)
    return admin_list.date_hierarchy(cheap) or {}


@register.tag(name="indexed_date_hierarchy")
def indexed_date_hierarchy_tag(parser, token) -> InclusionAdminNode:
    return InclusionAdminNode(
        parser, token, func=indexed_date_hierarchy, template_name="date_hierarchy.html", takes_context=False
    )


# Each template below can still be overridden per app or model, as the admin's own ones can.
@register.tag(name="large_table_search_form")
def search_form_tag(parser, token) -> InclusionAdminNode:
    return InclusionAdminNode(
        parser, token, func=admin_list.search_form, template_name="large_table/search_form.html", takes_context=False
    )


@register.tag(name="large_table_pagination")
def pagination_tag(parser, token) -> InclusionAdminNode:
    return InclusionAdminNode(
        parser, token, func=admin_list.pagination, template_name="large_table/pagination.html", takes_context=False
    )


@register.tag(name="large_table_actions")
def actions_tag(parser, token) -> InclusionAdminNode:
    return InclusionAdminNode(parser, token, func=admin_list.admin_actions, template_name="large_table/actions.html")
