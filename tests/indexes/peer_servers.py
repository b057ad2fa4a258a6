"""A stand-in peer: an HTTP server whose /api/sync/identity misbehaves in the ways a verify job must name."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from chlops.identity import PROTOCOL, identity_public


def new_public_key() -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


class StandIn:
    """What the stand-in answers, per case: the first part of the path names it (/ok, /refuses…)."""

    def __init__(self) -> None:
        self.key = new_public_key()
        self.other_key = new_public_key()
        self.tokens: list[str] = []  # the Authorization headers it was sent
        self.hang = threading.Event()

    def identity(self, **changes) -> bytes:
        body = {"protocol": PROTOCOL, "version": "0.1", "public_key": self.key, "time": timezone.now().isoformat()}
        return json.dumps({**body, **changes}).encode()

    def answer(self, case: str) -> tuple[int, dict[str, str], bytes]:
        if case == "ok":
            return 200, {}, self.identity()
        if case == "rekeyed":
            return 200, {}, self.identity(public_key=self.other_key)
        if case == "refuses":
            return 401, {}, b'{"error": "This API token is unknown or revoked."}'
        if case == "forbids":
            return 403, {}, b'{"error": "no"}'
        if case == "slow":
            self.hang.wait(10)  # longer than the verify job waits; the test sets it free at the end
            return 200, {}, self.identity()
        if case == "future":
            return 200, {}, self.identity(protocol=PROTOCOL + 1)
        if case == "skewed":
            return 200, {}, self.identity(time=(timezone.now() + timedelta(seconds=125)).isoformat())
        if case == "behind":
            return 200, {}, self.identity(time=(timezone.now() - timedelta(seconds=90)).isoformat())
        if case == "dated":  # no time in the answer: the Date header (to the second) is the clock
            return 200, {}, self.identity(time=None)
        if case == "mirror":
            return 200, {}, self.identity(public_key=identity_public().public_key)
        if case == "moved":
            return 302, {"Location": "https://elsewhere.example.org/api/sync/identity"}, b""
        if case == "html":
            return 200, {"Content-Type": "text/html"}, b"<html>a router's login page</html>"
        if case == "badkey":
            return 200, {}, self.identity(public_key="bm90IGEga2V5")
        return 404, {}, b"{}"


@contextmanager
def stand_in_peer() -> Iterator[tuple[str, StandIn]]:
    """Serve a StandIn on 127.0.0.1; yield its base URL (add "/<case>") and the StandIn."""
    stand_in = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 — http.server's name
            case, _, rest = self.path.lstrip("/").partition("/")
            stand_in.tokens.append(self.headers.get("Authorization", ""))
            status, headers, body = stand_in.answer(case) if rest == "api/sync/identity" else (404, {}, b"")
            try:
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the verify job gave up waiting and closed the connection

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", stand_in
    finally:
        stand_in.hang.set()
        server.shutdown()
        server.server_close()
        time.sleep(0)  # let the released handler finish writing
