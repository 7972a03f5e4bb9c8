"""The /metrics server both exporters use: gzip when asked, OpenMetrics when asked."""

from __future__ import annotations

import gzip
import http.client
import threading
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from support.procs import free_port

from exporters.serve import start_server


@pytest.fixture
def server() -> Iterator[int]:
    registry = CollectorRegistry()
    Gauge("demo_queue_depth", "Tasks waiting.", registry=registry).set(7)
    port = free_port()
    httpd, thread = start_server(registry, ("127.0.0.1", port))
    try:
        yield port
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def get(port: int, path: str = "/metrics", **headers: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def test_gzip_for_clients_that_accept_it(server):
    response = get(server, **{"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.getheader("Content-Encoding") == "gzip"
    assert int(response.getheader("Content-Length")) == len(response.body)
    assert b"demo_queue_depth 7.0" in gzip.decompress(response.body)


def test_plain_text_otherwise(server):
    response = get(server)
    assert response.getheader("Content-Encoding") is None
    assert response.getheader("Content-Type").startswith("text/plain; version=0.0.4")
    assert b"demo_queue_depth 7.0" in response.body


def test_openmetrics_when_prometheus_asks_for_it(server):
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    response = get(server, Accept=accept)
    assert response.getheader("Content-Type").startswith("application/openmetrics-text")
    assert response.body.rstrip().endswith(b"# EOF")


class ThreadRecorder:
    """A collector that notes which thread each scrape ran on."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def collect(self) -> Iterator[Metric]:
        self.threads.append(threading.current_thread())
        yield GaugeMetricFamily("demo_up", "Up.", value=1)


@pytest.mark.integration
def test_requests_reuse_an_idle_thread_rather_than_start_one_each():
    registry = CollectorRegistry(auto_describe=False)
    recorder = ThreadRecorder()
    registry.register(recorder)
    port = free_port()
    httpd, thread = start_server(registry, ("127.0.0.1", port))
    try:
        for _ in range(3):
            assert get(port).status == 200
            assert httpd.requests.wait_idle(1, 10)  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    first = recorder.threads[0]
    assert first is not thread
    assert recorder.threads == [first, first, first]
