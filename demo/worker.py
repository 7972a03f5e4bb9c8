"""The orders worker: works off the queued orders the API stores, a few at a time.

A second business service with a shape of its own: it serves no business
requests, so its failure shows as a growing queue
(`task_queue_depth{queue="orders"}`, read from the orders file when scraped)
and as its `/healthz` going away, not as failed requests. It shares the orders
file with the API (demo/orders.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask, jsonify
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from demo.orders import QUEUED, Orders
from exporters.instrumentation import instrument_app

QUEUE = "orders"


class QueueDepth(Collector):
    def __init__(self, orders: Orders) -> None:
        self.orders = orders

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "task_queue_depth", "Tasks waiting in the queue.", labels=["queue"]
        )
        family.add_metric([QUEUE], float(self.orders.count(QUEUED)))
        yield family


class Worker:
    """`batch` orders per pass, a pass every `interval` seconds."""

    def __init__(
        self, orders: Orders, registry: CollectorRegistry, batch: int = 5, interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.orders, self.batch, self.interval, self.clock = orders, batch, interval, clock
        self.processed = Counter(
            "demo_orders_processed", "Orders the worker has worked off.", registry=registry
        )

    def run_once(self) -> int:
        done = self.orders.work_off(self.batch, self.clock())
        self.processed.inc(done)
        return done

    def run(self, stopped: Callable[[float], bool]) -> None:
        """Work, pause, repeat until `stopped(pause)` is true (threading.Event.wait)."""
        while True:
            self.run_once()
            if stopped(self.interval):
                return


def create_worker_app(
    orders: Orders, registry: CollectorRegistry | None = None
) -> tuple[Flask, Worker]:
    app = Flask("demo-worker")
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    instrument_app(app, registry)
    registry.register(QueueDepth(orders))
    worker = Worker(orders, registry)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok", "queued": orders.count(QUEUED)})

    return app, worker


def serve(bind: str, data: str) -> None:
    import waitress

    orders = Orders(data)
    app, worker = create_worker_app(orders)
    threading.Thread(
        target=worker.run, args=(threading.Event().wait,), name="worker", daemon=True
    ).start()
    host, _, port = bind.rpartition(":")
    waitress.serve(app, host=host, port=int(port), threads=4, _quiet=True)
