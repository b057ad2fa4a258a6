from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from operations import broadcasts, cards
from tests.conftest import receive_containing

CARD = """{% load partials %}{% partialdef probe-card %}
<section id="probe-card" class="module ops-card" data-ops-poll hx-get="{% url 'ops:card' 'probe-card' %}"{% if oob %} hx-swap-oob="true"{% endif %}>
  <h2>Probe</h2><p>value={{ value }}</p>{% if can_run %}<button>Act</button>{% endif %}
</section>{% endpartialdef %}"""

STATE = {"value": 1}


@pytest.fixture
def probe_card(tmp_path):
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "card.html").write_text(CARD)
    templates = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], tmp_path]}]
    from django.test import override_settings

    with override_settings(TEMPLATES=templates):
        cards.register(cards.Card(name="probe-card", template="probe/card.html", context=lambda: dict(STATE)))
        yield
        cards._cards.pop("probe-card")


class CardTests:
    def test_dashboard_and_partial_url_render_a_registered_card(self, probe_card, operator, auditor):
        client = Client()
        client.force_login(operator)
        assert "value=1" in client.get("/admin/ops/").content.decode()
        partial = client.get("/admin/ops/partials/card/probe-card/").content.decode()
        assert 'id="probe-card"' in partial and "<button>Act</button>" in partial
        client.force_login(auditor)
        assert "<button>Act</button>" not in client.get("/admin/ops/partials/card/probe-card/").content.decode()
        assert client.get("/admin/ops/partials/card/nope/").status_code == 404

    @pytest.mark.django_db(transaction=True)
    def test_card_changed_pushes_the_card_to_connected_dashboards(self, probe_card, operator):
        async_to_sync(self._receive_push)(operator)

    async def _receive_push(self, operator):
        from channels.db import database_sync_to_async

        from chlops.asgi import application

        client = Client()
        await database_sync_to_async(client.force_login)(operator)
        cookie = f"sessionid={client.cookies['sessionid'].value}"
        communicator = WebsocketCommunicator(
            application,
            "/ws/ops/?view=dashboard",
            headers=[(b"cookie", cookie.encode()), (b"origin", b"http://localhost"), (b"host", b"localhost")],
        )
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        snapshot = await communicator.receive_from(timeout=10)
        assert "value=1" in snapshot
        STATE["value"] = 2
        try:
            await database_sync_to_async(broadcasts.card_changed)("probe-card")
            # Workers of other tests may push their own cards meanwhile: wait for this one.
            pushed = await receive_containing(communicator, 'id="probe-card"')
            assert 'id="probe-card"' in pushed and "value=2" in pushed and 'hx-swap-oob="true"' in pushed
        finally:
            STATE["value"] = 1
            await communicator.disconnect()
