"""Loopback HTTP peers for tests: a handler that answers whole replies and logs
nothing, served on a free port until the block ends; and a Prometheus whose
query API answers every query with nothing (the alert's condition is gone)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any


class Replying(BaseHTTPRequestHandler):
    """A loopback peer's handler: `reply` sends a whole answer, nothing is logged."""

    def reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """`handler` on a free loopback port (yielded) until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class _NothingFound(Replying):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.reply(200, b'{"status":"success","data":{"resultType":"vector","result":[]}}')


@contextmanager
def quiet_prometheus() -> Iterator[str]:
    """The URL of a Prometheus query API that finds nothing for any query."""
    with serving(_NothingFound) as port:
        yield f"http://127.0.0.1:{port}"
