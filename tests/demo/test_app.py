"""The orders API (demo/app.py) against real dependency instances on loopback."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from demo.app import create_app
from demo.dependency import create_dependency_app, switch, write_instances
from demo.orders import QUEUED, Orders


@pytest.fixture
def instances(serve: Callable[[Any], str]) -> dict[str, Any]:
    apps = {name: create_dependency_app(name) for name in ("primary", "secondary", "tertiary")}
    return {name: (app, serve(app)) for name, app in apps.items()}


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """A port that takes connections and never answers: a partitioned instance."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def _api(tmp_path: Path, urls: dict[str, str], active: str = "primary", **kw: Any) -> Any:
    folder = tmp_path / "dependency"
    registry = CollectorRegistry()
    orders = Orders(tmp_path / "orders.sqlite3")
    app = create_app(
        registry=registry, orders=orders, dependency=write_instances(folder, urls, active), **kw
    )
    return app.test_client(), orders, folder, registry


def _metric(registry: CollectorRegistry, line: str) -> bool:
    return line in generate_latest(registry).decode()


def test_an_order_is_reserved_by_the_active_instance_and_queued(tmp_path, instances) -> None:
    client, orders, _, registry = _api(tmp_path, {n: url for n, (_, url) in instances.items()})
    answer = client.post("/api/orders", json={"item": "widget", "quantity": 3})
    assert answer.status_code == 201
    assert answer.json["backend"] == "primary" and answer.json["status"] == QUEUED
    assert orders.count(QUEUED) == 1
    listed = client.get("/api/orders").json["orders"]
    assert [(o["item"], o["quantity"]) for o in listed] == [("widget", 3)]
    assert _metric(registry, 'demo_dependency_requests_total{backend="primary",outcome="ok"} 1.0')
    assert _metric(registry, 'demo_dependency_active{backend="primary"} 1.0')


def test_switching_the_link_fails_over_without_a_restart(tmp_path, instances) -> None:
    client, _, folder, registry = _api(tmp_path, {n: url for n, (_, url) in instances.items()})
    switch(folder, "secondary")
    assert client.post("/api/orders", json={"item": "bolt"}).json["backend"] == "secondary"
    assert _metric(registry, 'demo_dependency_active{backend="secondary"} 1.0')
    assert _metric(registry, 'demo_dependency_active{backend="primary"} 0.0')


def test_a_failing_instance_refuses_the_order_naming_it_and_stores_nothing(
    tmp_path, instances
) -> None:
    primary, _ = instances["primary"]
    primary.test_client().post("/chaos", json={"error_ratio": 1})
    client, orders, _, registry = _api(tmp_path, {n: url for n, (_, url) in instances.items()})
    answer = client.post("/api/orders", json={"item": "widget"})
    assert answer.status_code == 502
    assert answer.json == {"error": "dependency primary: answered 500"}
    assert orders.count() == 0
    assert _metric(
        registry, 'demo_dependency_requests_total{backend="primary",outcome="error"} 1.0'
    )


def test_an_instance_that_never_answers_times_out(tmp_path, hanging_url) -> None:
    client, orders, _, registry = _api(tmp_path, {"primary": hanging_url}, dependency_timeout=0.2)
    answer = client.post("/api/orders", json={"item": "widget"})
    assert answer.status_code == 504
    assert answer.json == {"error": "dependency primary: no answer within 0.2s"}
    assert orders.count() == 0
    assert _metric(
        registry, 'demo_dependency_requests_total{backend="primary",outcome="timeout"} 1.0'
    )


def test_an_unreachable_instance_is_a_bad_gateway(tmp_path) -> None:
    with socket.socket() as sock:  # bound, not listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        client, _, _, registry = _api(tmp_path, {"primary": url})
        assert client.post("/api/orders", json={"item": "widget"}).status_code == 502
    assert _metric(
        registry, 'demo_dependency_requests_total{backend="primary",outcome="unreachable"} 1.0'
    )


def test_no_active_link_is_a_503_naming_the_link(tmp_path, instances) -> None:
    client, orders, folder, _ = _api(tmp_path, {n: url for n, (_, url) in instances.items()})
    (folder / "active").unlink()
    answer = client.post("/api/orders", json={"item": "widget"})
    assert answer.status_code == 503
    assert str(folder / "active") in answer.json["error"]
    assert orders.count() == 0


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "body: must be a JSON object"),
        ({}, "item: must be a text of 1 to 100 characters"),
        ({"item": " "}, "item: must be a text of 1 to 100 characters"),
        ({"item": "x" * 101}, "item: must be a text of 1 to 100 characters"),
        ({"item": "w", "quantity": True}, "quantity: must be a whole number"),
        ({"item": "w", "quantity": 1.5}, "quantity: must be a whole number"),
        ({"item": "w", "quantity": 0}, "quantity: must be from 1 to 1000"),
    ],
)
def test_a_bad_order_is_refused_naming_the_field(tmp_path, body, problem) -> None:
    orders = Orders(tmp_path / "orders.sqlite3")
    client = create_app(registry=CollectorRegistry(), orders=orders).test_client()
    answer = client.post("/api/orders", json=body)
    assert (answer.status_code, answer.json) == (400, {"error": problem})
    assert orders.count() == 0


def test_without_a_dependency_orders_are_placed_unreserved() -> None:
    client = create_app(registry=CollectorRegistry()).test_client()
    assert client.post("/api/orders", json={"item": "widget"}).json["backend"] == "none"


def test_chaos_switches_are_all_or_nothing() -> None:
    client = create_app(registry=CollectorRegistry()).test_client()
    answer = client.post("/chaos", json={"latency_seconds": 1, "error_ratio": 2})
    assert (answer.status_code, answer.json) == (
        400,
        {"error": "error_ratio: must be a number from 0 to 1"},
    )
    assert client.get("/chaos").json == {
        "latency_seconds": 0.0,
        "error_ratio": 0.0,
        "memory_hog_mib": 0.0,
        "cpu_hog": 0.0,
        "queue_depth": 0,
    }
    assert client.post("/chaos", json={"queue_depth": 150}).json["queue_depth"] == 150
    assert client.post("/chaos", json={"nope": 1}).json == {"error": "nope: unknown setting"}


def test_injected_failures_hit_the_order_endpoints() -> None:
    client = create_app(registry=CollectorRegistry(), rand=lambda: 0.0).test_client()
    client.post("/chaos", json={"error_ratio": 0.5})
    assert client.get("/api/orders").status_code == 500
    assert client.post("/api/orders", json={"item": "widget"}).status_code == 500
