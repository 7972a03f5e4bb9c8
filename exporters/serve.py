"""Serve one registry over HTTP until SIGTERM or SIGINT — shared by both exporters."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry, start_http_server

log = logging.getLogger(__name__)


def parse_listen(value: str) -> tuple[str, int]:
    """`127.0.0.1:9101` or `[::1]:9101` → (host, port); argparse reports the error."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


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
    server, thread = start_http_server(port, addr=host, registry=registry)
    log.info("serving metrics on http://%s:%d/metrics", host, port)
    try:
        stop.wait()
    finally:
        on_stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
