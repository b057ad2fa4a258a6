"""Fixtures of the corpus tests: a local web server to import from, and another CHL Ops instance."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings

from tests.conftest import Process, free_port, wait_for
from tests.indexes.factories import WEB_CSV


class Handler(BaseHTTPRequestHandler):
    """A tiny file server with the misbehaviours an import must survive."""

    def do_GET(self) -> None:  # noqa: N802 — http.server's name
        route = {
            "/entries.csv": self.entries,
            "/big-declared.csv": self.big_declared,
            "/big-streamed.csv": self.big_streamed,
            "/to-file": self.to_file,
            "/slow.csv": self.slow,
        }.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
        else:
            route()

    def entries(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(WEB_CSV)))
        self.end_headers()
        self.wfile.write(WEB_CSV)

    def big_declared(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5000")
        self.end_headers()
        self.wfile.write(b"kind,external_id\r\n")

    def big_streamed(self) -> None:
        # No Content-Length: the body ends when the connection closes, so only counting can stop it.
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"kind,external_id\r\n")
        for i in range(400):
            self.wfile.write(f"manual,s{i}\r\n".encode())

    def to_file(self) -> None:
        self.send_response(302)
        self.send_header("Location", "file:///etc/passwd")
        self.end_headers()

    def slow(self) -> None:
        time.sleep(2)
        self.entries()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def http_base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def peer_instance(stack_env, tmp_path_factory) -> Iterator[str]:
    """Another CHL Ops instance: daphne with a data dir (and so a signing key) of its own, on the test database."""
    data_dir = tmp_path_factory.mktemp("peer-instance")
    env = {**stack_env, "CHLOPS_DATA_DIR": str(data_dir), "REDIS_URL": settings.REDIS_URL, "CHLOPS_METRICS": "0"}
    port = free_port()
    process = Process(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "chlops.asgi:application"],
        env,
        data_dir / "daphne.log",
    )

    def up() -> bool:
        if process.popen.poll() is not None:
            pytest.fail(f"the peer instance exited at start:\n{process.output()}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_for(up, timeout=30, interval=0.1, message="the peer instance to listen")
    yield f"http://127.0.0.1:{port}"
    process.stop()
