"""The Content-Security-Policy: served on every page, and nothing of ours needs it loosened."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.conftest import BASE_DIR

pytestmark = pytest.mark.django_db

TEMPLATES = sorted((BASE_DIR / "templates").rglob("*.html"))
APPS = ("audit", "chlops", "indexes", "monitoring", "operations")
# What a strict policy blocks: inline scripts, <style> blocks, style="" attributes, on…="" handlers and
# htmx's hx-on (which needs eval).
INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "style block": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "event handler": re.compile(r"\son[a-z]+\s*=\s*[\"']", re.IGNORECASE),
    "hx-on": re.compile(r"\s(data-)?hx-on", re.IGNORECASE),
}


def directives(header: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


class PolicyTests:
    @pytest.mark.parametrize("path", ["/admin/login/", "/admin/ops/", "/admin/audit/auditlog/"])
    def test_pages_carry_a_strict_policy(self, superuser, path):
        client = Client()
        if path != "/admin/login/":
            client.force_login(superuser)
        response = client.get(path)
        assert response.status_code == 200
        policy = directives(response["Content-Security-Policy"])
        assert policy["script-src"] == ["'self'"]
        assert policy["style-src"] == ["'self'"]
        assert policy["connect-src"] == ["'self'"]  # CSP3: 'self' takes in ws: and wss: to this origin
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]
        assert "'unsafe-eval'" not in response["Content-Security-Policy"]

    def test_htmx_is_told_not_to_eval_nor_inject_styles(self, superuser):
        client = Client()
        client.force_login(superuser)
        html = client.get("/admin/ops/").content.decode()
        config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'>', html).group(1)
        assert '"allowEval": false' in config and '"includeIndicatorStyles": false' in config


class TemplateTests:
    @pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(BASE_DIR)))
    def test_no_template_has_inline_code_or_styles(self, template):
        text = template.read_text()
        found = {what for what, pattern in INLINE.items() if pattern.search(text)}
        assert not found, f"{template.relative_to(BASE_DIR)} has {', '.join(sorted(found))}: move it to a static file"

    def test_no_python_module_writes_inline_styles_or_scripts_into_html(self):
        offenders = [
            str(path.relative_to(BASE_DIR))
            for app in APPS
            for path in (BASE_DIR / app).rglob("*.py")
            if "migrations" not in path.parts and re.search(r"<script>|<style|\sstyle=\\?[\"']", path.read_text())
        ]
        assert offenders == []
