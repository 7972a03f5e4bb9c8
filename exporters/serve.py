"""Serve one registry over HTTP until SIGTERM or SIGINT — shared by both exporters.

prometheus_client's own WSGI app answers (content negotiation, OpenMetrics for
Prometheus, `name[]` filters); only its compression is ours: it gzips at level 9,
which cost more than a millisecond of every system-exporter scrape for a body a
tenth smaller than level 1 makes it. The server is the standard library's, one
thread per request, reused for the next request once idle (a new one when none is:
a slow client holds no scrape up).
"""

from __future__ import annotations

import argparse
import gzip
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from exporters.thread_reuse import ThreadReuse

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def parse_listen(value: str) -> tuple[str, int]:
    """`127.0.0.1:9101` or `[::1]:9101` → (host, port); argparse reports the error."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def gzip_fast(app: WSGIApp, level: int = 1) -> WSGIApp:
    """`app`, its answers gzipped at `level` for clients that accept gzip."""

    def compressed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if "gzip" not in environ.get("HTTP_ACCEPT_ENCODING", ""):
            return app(environ, start_response)
        answer: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            answer.update(status=status, headers=list(headers))

        body = b"".join(app(environ, keep))
        headers = answer["headers"]
        if answer["status"].startswith("200") and body:
            body = gzip.compress(body, compresslevel=level)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        start_response(answer["status"], headers)
        return [body]

    return compressed


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # one line per scrape is noise
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests = ThreadReuse("metrics-request")

    def process_request(self, request: Any, client_address: Any) -> None:
        # ThreadingMixIn's own starts a thread per request; an idle one takes it here.
        self.requests(lambda: self.process_request_thread(request, client_address))


def start_server(
    registry: CollectorRegistry, listen: tuple[str, int]
) -> tuple[WSGIServer, threading.Thread]:
    """The /metrics server for `registry`, serving on its own thread."""
    host, port = listen
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    server_class = type("MetricsServer", (_ThreadingServer,), {"address_family": family})
    app = gzip_fast(make_wsgi_app(registry, disable_compression=True))
    server: WSGIServer = make_server(host, port, app, server_class, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    return server, thread


def serve_forever(
    registry: CollectorRegistry,
    listen: tuple[str, int],
    on_stop: Callable[[], None] = lambda: None,
) -> None:
    """Serve /metrics from `registry` in the foreground; return after a stop signal."""
    host, port = listen
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        log.info("received signal %d, stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    server, thread = start_server(registry, listen)
    log.info("serving metrics on http://%s:%d/metrics", host, port)
    try:
        stop.wait()
    finally:
        on_stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
