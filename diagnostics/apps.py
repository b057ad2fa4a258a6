from __future__ import annotations

from django.apps import AppConfig


class DiagnosticsConfig(AppConfig):
    name = "diagnostics"
    verbose_name = "Settings diagnostics"

    def ready(self) -> None:
        from django.test.signals import setting_changed

        from diagnostics import broadcasts, cards, selectors, services
        from operations import cards as card_registry
        from operations import observers

        # A banner on every ops page registered so far (this app is the last in INSTALLED_APPS).
        pages = [page.name for page in card_registry.pages()]
        for page in pages:
            card_registry.register(cards.banner(page))
        broadcasts.pages_set(pages)
        observers.observer_register(services.work_observed)
        # A test that overrides a setting must not be answered from the cache of the settings before.
        setting_changed.connect(lambda **kwargs: selectors.diagnostics_forget(), weak=False)
