"""demo/worker.py: the worker works off the queue; its depth comes from the file."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from demo.orders import DONE, Orders
from demo.worker import create_worker_app


def test_each_pass_works_off_a_batch_and_the_depth_is_read_when_scraped(tmp_path: Path) -> None:
    api = Orders(tmp_path / "orders.sqlite3")
    for i in range(12):
        api.create("widget", 1, "primary", float(i))
    registry = CollectorRegistry()
    app, worker = create_worker_app(Orders(tmp_path / "orders.sqlite3"), registry)
    worker.clock = lambda: 500.0
    assert 'task_queue_depth{queue="orders"} 12.0' in generate_latest(registry).decode()
    assert [worker.run_once() for _ in range(3)] == [5, 5, 2]
    scraped = generate_latest(registry).decode()
    assert 'task_queue_depth{queue="orders"} 0.0' in scraped
    assert "demo_orders_processed_total 12.0" in scraped
    assert api.count(DONE) == 12
    assert app.test_client().get("/healthz").json == {"status": "ok", "queued": 0}


def test_run_pauses_between_passes_until_stopped(tmp_path: Path) -> None:
    _, worker = create_worker_app(Orders(tmp_path / "o.sqlite3"), CollectorRegistry())
    pauses: list[float] = []
    worker.run(lambda pause: pauses.append(pause) or len(pauses) == 3)
    assert pauses == [worker.interval] * 3
