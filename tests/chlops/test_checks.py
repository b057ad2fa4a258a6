"""`manage.py check`: the production diagnostics as warnings, nothing outside production."""

from __future__ import annotations

import io

from django.core.management import call_command

from chlops.checks import check_production
from tests.diagnostics.test_checks import on_sqlite


class ProductionCheckTests:
    def test_quiet_outside_production(self, settings):
        settings.PRODUCTION, settings.DEBUG = False, True
        assert check_production() == []

    def test_reports_each_production_diagnostic_with_its_fix(self, settings):
        settings.PRODUCTION, settings.DEBUG, settings.SECRET_KEY_GENERATED, settings.REDIS_EMBEDDED = (
            True,
            True,
            True,
            True,
        )
        settings.DATABASES = on_sqlite(settings)  # W102 names SQLite, whichever database this run uses
        found = {message.id: message for message in check_production()}
        assert set(found) == {"chlops.W101", "chlops.W102", "chlops.W103", "chlops.W104"}
        assert found["chlops.W103"].hint == "Unset CHLOPS_DEBUG and restart every process."

    def test_the_check_command_prints_them(self, settings):
        settings.PRODUCTION, settings.DEBUG = True, True
        out, err = io.StringIO(), io.StringIO()
        call_command("check", stdout=out, stderr=err)
        assert "(chlops.W103) DEBUG is on in production" in out.getvalue() + err.getvalue()
