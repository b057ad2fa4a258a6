"""Websocket routes."""

from __future__ import annotations

from django.urls import path

from operations.consumers import OpsConsumer

websocket_urlpatterns = [path("ws/ops/", OpsConsumer.as_asgi())]
