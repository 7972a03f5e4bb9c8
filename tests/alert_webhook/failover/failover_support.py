"""A real HTTP server on a free loopback port standing in for a service's backends
and its load balancer: `/health/<name>` answers each backend's health as a test
sets it, `/switch/<name>` records the switches asked for."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Backends:
    port: int = 0
    # backend name → the status its health URL answers (absent: 200)
    health: dict[str, int] = field(default_factory=dict)
    # Backends whose health URL holds its answer until `release` is set.
    slow: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)
    switch_status: int = 200
    switched: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def service(self, *names: str, **extra: Any) -> dict[str, Any]:
        """A failover service of these backends switched by an HTTP call here."""
        return {
            "backends": [
                {"name": n, "health": {"url": self.url(f"/health/{n}"), "timeout": "1s"}}
                for n in names
            ],
            "http": {"method": "PUT", "url": self.url("/switch/{backend}")},
            **extra,
        }


@contextlib.contextmanager
def backends_server() -> Iterator[Backends]:
    state = Backends()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int) -> None:
            with contextlib.suppress(OSError):  # the client may have given up
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        def do_GET(self) -> None:
            name = self.path.rsplit("/", 1)[-1]
            state.checked.append(name)
            if name in state.slow:
                state.release.wait(10)
            self._answer(state.health.get(name, 200))

        def do_PUT(self) -> None:
            state.switched.append(self.path.rsplit("/", 1)[-1])
            self._answer(state.switch_status)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # a free port, no race
    state.port = server.server_address[1]
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
