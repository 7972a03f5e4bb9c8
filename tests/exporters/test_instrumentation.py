"""Flask instrumentation: in one process, and under gunicorn with several workers."""

from __future__ import annotations

import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from flask import Flask
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from support.procs import free_port, running, wait_until

from exporters.instrumentation import REQUEST_BUCKETS, instrument_app, multiprocess_dir_from_env

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "exporters"
ROOT = Path(__file__).resolve().parents[2]


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_app(propagate: bool = False) -> tuple[Flask, object, CollectorRegistry, Ticks]:
    app = Flask("under_test")
    app.config["PROPAGATE_EXCEPTIONS"] = propagate
    registry = CollectorRegistry()
    ticks = Ticks()
    seen_in_flight: list[float | None] = []

    @app.get("/api/items/<int:item_id>")
    def item(item_id: int) -> dict[str, int]:
        ticks.now += 6.0  # a response slower than the plan's 5 s threshold
        seen_in_flight.append(registry.get_sample_value("http_requests_in_flight"))
        return {"id": item_id}

    @app.post("/api/items")
    def create() -> tuple[str, int]:
        return "", 201

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    metrics = instrument_app(app, registry, clock=ticks)
    app.extensions["seen_in_flight"] = seen_in_flight
    return app, metrics, registry, ticks


def test_duration_by_route_template_method_and_status():
    app, _, registry, _ = make_app()
    client = app.test_client()
    client.get("/api/items/1")
    client.get("/api/items/2")
    client.post("/api/items")
    labels = {"handler": "/api/items/<int:item_id>", "method": "GET", "status": "200"}
    assert registry.get_sample_value("http_request_duration_seconds_count", labels) == 2
    assert registry.get_sample_value("http_request_duration_seconds_sum", labels) == 12.0
    assert (
        registry.get_sample_value("http_request_duration_seconds_bucket", {**labels, "le": "5.0"})
        == 0
    )
    assert (
        registry.get_sample_value("http_request_duration_seconds_bucket", {**labels, "le": "7.5"})
        == 2
    )
    created = {"handler": "/api/items", "method": "POST", "status": "201"}
    assert registry.get_sample_value("http_request_duration_seconds_count", created) == 1


def test_buckets_hold_exactly_five_seconds():
    assert 5.0 in REQUEST_BUCKETS


def test_unmatched_routes_share_one_label():
    app, _, registry, _ = make_app()
    client = app.test_client()
    for path in ("/nope", "/wp-admin", "/api/items/not-a-number"):
        assert client.get(path).status_code == 404
    labels = {"handler": "unmatched", "method": "GET", "status": "404"}
    assert registry.get_sample_value("http_request_duration_seconds_count", labels) == 3


@pytest.mark.parametrize("propagate", [False, True])
def test_unhandled_exceptions_are_counted_once_with_status_500(propagate):
    app, _, registry, _ = make_app(propagate)
    client = app.test_client()
    if propagate:
        with pytest.raises(RuntimeError):
            client.get("/boom")
    else:
        assert client.get("/boom").status_code == 500
    assert (
        registry.get_sample_value(
            "http_request_exceptions_total", {"handler": "/boom", "method": "GET"}
        )
        == 1
    )
    labels = {"handler": "/boom", "method": "GET", "status": "500"}
    assert registry.get_sample_value("http_request_duration_seconds_count", labels) == 1
    assert registry.get_sample_value("http_requests_in_flight") == 0


def test_in_flight_counts_the_request_being_answered():
    app, _, registry, _ = make_app()
    app.test_client().get("/api/items/1")
    assert app.extensions["seen_in_flight"] == [1.0]
    assert registry.get_sample_value("http_requests_in_flight") == 0


def test_metrics_endpoint_and_app_gauges():
    app, metrics, _, _ = make_app()
    depth = metrics.gauge("task_queue_depth", "Tasks waiting.", ["queue"])
    depth.labels(queue="email").set(42)
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    assert 'task_queue_depth{queue="email"} 42.0' in response.text


def test_two_apps_never_collide():
    first, _, first_registry, _ = make_app()
    second, _, second_registry, _ = make_app()
    first.test_client().get("/api/items/1")
    labels = {"handler": "/api/items/<int:item_id>", "method": "GET", "status": "200"}
    assert first_registry.get_sample_value("http_request_duration_seconds_count", labels) == 1
    assert second_registry.get_sample_value("http_request_duration_seconds_count", labels) is None


def test_multiprocess_dir_without_the_environment_is_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="PROMETHEUS_MULTIPROC_DIR"):
        instrument_app(Flask("x"), multiprocess_dir=str(tmp_path))


def test_multiprocess_dir_from_env():
    assert multiprocess_dir_from_env({}) is None
    assert multiprocess_dir_from_env({"PROMETHEUS_MULTIPROC_DIR": "/d"}) == "/d"


def scrape(url: str) -> dict:
    text = requests.get(url, timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.integration
def test_gunicorn_workers_are_summed(tmp_path):
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        pytest.skip("gunicorn is not installed")
    multiproc = tmp_path / "multiproc"
    multiproc.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(FIXTURES / "gunicorn_conf.py"),
        "--pythonpath",
        f"{FIXTURES},{ROOT}",
        "--bind",
        f"127.0.0.1:{port}",
        "gunicorn_app:app",
    ]
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc), "PYTHONPATH": str(ROOT)}
    with running("gunicorn", argv, tmp_path, ready_url=f"{base}/metrics", env=env) as proc:

        def call(i: int) -> int:
            url = f"{base}/work/{'x' * (i % 5 + 1)}?sleep=0.1"
            return int(requests.get(url, headers={"Connection": "close"}, timeout=10).json()["pid"])

        with ThreadPoolExecutor(6) as pool:
            pids = set(pool.map(call, range(39)))
        requests.get(f"{base}/work/abc", timeout=10)  # the last value set, by whichever worker
        labels = (("handler", "/work/<item>"), ("method", "GET"), ("status", "200"))
        for _ in range(5):  # whichever worker answers the scrape sees every worker's requests
            values = scrape(f"{base}/metrics")
            assert values[("http_request_duration_seconds_count", labels)] == 40
            assert values[("http_requests_in_flight", ())] == 1  # only the scrape itself
            assert values[("task_queue_depth", (("queue", "default"),))] == 3  # the most recent
        assert len(pids) > 1, "gunicorn sent every request to one worker; the test proves nothing"
        # A worker killed mid-flight: child_exit drops its live gauge files.
        victim = pids.pop()
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: not any(str(victim) in p.name for p in multiproc.glob("gauge_live*")),
            20,
            "child_exit to mark the dead worker",
        )
        values = scrape(f"{base}/metrics")
        assert values[("http_request_duration_seconds_count", labels)] == 40  # counters survive
        assert proc.alive()
