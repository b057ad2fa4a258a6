"""ASGI entry point: HTTP through Django, websockets through Channels."""

from __future__ import annotations

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chlops.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from chlops.routing import websocket_urlpatterns  # noqa: E402

FULL_COLLECTION_AFTER = 1000  # middle-generation collections (CPython's default is 10)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# A web process holds every open dashboard's socket: tens of thousands of long-lived objects that
# CPython's full collections walk again and again, each walk a pause of the event loop (50–400 ms
# measured at 500 sockets on two cores), which every push waiting behind it pays. What start-up
# built (modules, settings, URL patterns) lives as long as the process, so it is frozen out of
# collection; and a full collection waits for 1,000 middle-generation ones instead of 10, which
# still collects reference cycles, only less often: not a pause every few pushes.
gc.freeze()
gc.set_threshold(*gc.get_threshold()[:2], FULL_COLLECTION_AFTER)
