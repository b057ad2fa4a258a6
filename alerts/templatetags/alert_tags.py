"""The viewer's alert preference in the page, for the banners' script (banners render once for everyone)."""

from __future__ import annotations

import json

from django import template
from django.utils.html import format_html

from alerts import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def alert_preference_meta(context: template.Context) -> str:
    """A <meta> with the viewer's metrics, modules and sound, read by alerts/alerts.js."""
    preference = selectors.preference_of(context.get("user"))
    found = {"metrics": preference.metrics, "modules": preference.modules, "sound": preference.sound}
    return format_html('<meta name="chlops-alert-preference" content="{}">', json.dumps(found))
