"""The orders API: a small instrumented service with switches to make it slow, failing
or dead.

It stands in for the recovery plan's business services (email, ERP, social-media API) so
every alert and recovery can be shown on something real:

- `GET /api/orders` lists the newest orders; `POST /api/orders` places one
  (`{"item": "...", "quantity": N}`): the dependency's active instance reserves
  the stock, then the order is stored `queued` for the worker (demo/worker.py).
  Both are the business endpoints, subject to the chaos settings;
- `POST /api/tasks` enqueues work, `POST /api/tasks/drain` works some off;
  the backlog is `task_queue_depth{queue="default"}`;
- `GET|POST /chaos` reads or changes `latency_seconds`, `error_ratio`,
  `memory_hog_mib` (resident memory held until reset: demo/chaos.py), `cpu_hog`
  (a spinning thread while not 0),
  `queue_depth`; `POST /chaos/reset` restores health; `POST /chaos/die` exits.
  Given a chaos file, the slowness and failures outlast a restart (demo/chaos.py).

Orders live in `orders` (demo/orders.py; in memory unless given a file), and the
dependency is whichever instance the `dependency` folder's link names
(demo/dependency.py); without one, orders are placed without a reservation.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import requests
from flask import Flask, jsonify, request
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from demo.chaos import Chaos, ChaosError
from demo.dependency import ActiveInstance, DependencyError
from demo.orders import Orders
from exporters.instrumentation import instrument_app

QUEUE = "default"
# A reservation that takes longer than this is a failed one: the order is refused
# rather than left hanging on an instance that does not answer.
DEPENDENCY_TIMEOUT_SECONDS = 2.0
MAX_ITEM_LENGTH = 100
MAX_QUANTITY = 1000


class Session(Protocol):
    def post(self, url: str, *, timeout: float) -> requests.Response: ...


class ActiveGauge(Collector):
    """`demo_dependency_active{backend}`: 1 for the instance the link names now, 0 for
    the others, read when scraped, so a failover shows at the next scrape. The
    label is `backend`, not `instance`, which Prometheus keeps for the target."""

    def __init__(self, dependency: ActiveInstance) -> None:
        self.dependency = dependency

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "demo_dependency_active",
            "1 for the dependency instance the orders API calls now, 0 for the others.",
            labels=["backend"],
        )
        try:
            active = self.dependency.current().name
        except DependencyError:
            active = ""
        for name in self.dependency.names():
            family.add_metric([name], 1.0 if name == active else 0.0)
        yield family


def _order_request(data: Any) -> tuple[str, int]:
    """`{"item": ..., "quantity": ...}` checked, or ValueError naming the field."""
    if not isinstance(data, dict):
        raise ValueError("body: must be a JSON object")
    item, quantity = data.get("item"), data.get("quantity", 1)
    if not isinstance(item, str) or not 0 < len(item.strip()) <= MAX_ITEM_LENGTH:
        raise ValueError(f"item: must be a text of 1 to {MAX_ITEM_LENGTH} characters")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValueError("quantity: must be a whole number")
    if not 0 < quantity <= MAX_QUANTITY:
        raise ValueError(f"quantity: must be from 1 to {MAX_QUANTITY}")
    return item.strip(), quantity


def create_app(
    *,
    registry: CollectorRegistry | None = None,
    orders: Orders | None = None,
    dependency: ActiveInstance | None = None,
    chaos: Chaos | None = None,
    session: Session | None = None,
    dependency_timeout: float = DEPENDENCY_TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
    clock: Callable[[], float] = time.time,
    die: Callable[[], None] = lambda: os.kill(os.getpid(), signal.SIGTERM),
) -> Flask:
    app = Flask(__name__)
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    metrics = instrument_app(app, registry)
    queue_depth = metrics.gauge("task_queue_depth", "Tasks waiting in the queue.", ["queue"])
    reservations = metrics.counter(
        "demo_dependency_requests",
        "Reservations asked of the dependency, by backend (instance) and outcome.",
        ["backend", "outcome"],
    )
    store = orders if orders is not None else Orders(":memory:")
    http: Session = session if session is not None else requests.Session()
    if dependency is not None:
        registry.register(ActiveGauge(dependency))
    chaos = chaos if chaos is not None else Chaos()
    tasks = {"depth": 0}
    lock = threading.Lock()

    def set_depth(depth: int) -> None:
        tasks["depth"] = max(0, depth)
        queue_depth.labels(QUEUE).set(tasks["depth"])

    set_depth(0)

    def troubled() -> Any | None:
        if chaos.latency_seconds:
            sleep(chaos.latency_seconds)
        if chaos.error_ratio and rand() < chaos.error_ratio:
            return jsonify({"error": "injected failure (chaos.error_ratio)"}), 500
        return None

    def reserve() -> tuple[str, Any | None]:
        """The instance that reserved the stock, or the error answer naming it."""
        if dependency is None:
            return "none", None
        try:
            instance = dependency.current()
        except DependencyError as exc:
            return "none", (jsonify({"error": str(exc)}), 503)
        try:
            answer = http.post(f"{instance.url}/api/reserve", timeout=dependency_timeout)
            outcome = "ok" if answer.status_code == 200 else "error"
            problem = f"answered {answer.status_code}"
        except requests.Timeout:
            outcome, problem = "timeout", f"no answer within {dependency_timeout:g}s"
        except requests.RequestException as exc:
            outcome, problem = "unreachable", type(exc).__name__
        reservations.labels(instance.name, outcome).inc()
        if outcome == "ok":
            return instance.name, None
        code = 504 if outcome == "timeout" else 502
        return instance.name, (jsonify({"error": f"dependency {instance.name}: {problem}"}), code)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok"})

    @app.get("/api/orders")
    def list_orders() -> Any:
        if (failure := troubled()) is not None:
            return failure
        return jsonify({"orders": [order.as_json() for order in store.recent()]})

    @app.post("/api/orders")
    def place_order() -> Any:
        if (failure := troubled()) is not None:
            return failure
        try:
            item, quantity = _order_request(request.get_json(silent=True))
        except ValueError as exc:
            return jsonify({"error": str(exc)}), 400
        backend, failed = reserve()
        if failed is not None:
            return failed
        return jsonify(store.create(item, quantity, backend, clock()).as_json()), 201

    @app.post("/api/tasks")
    def enqueue() -> Any:
        with lock:
            set_depth(tasks["depth"] + 1)
            return jsonify({"queue": QUEUE, "depth": tasks["depth"]}), 202

    @app.post("/api/tasks/drain")
    def drain() -> Any:
        count = request.args.get("count", "10")
        if not count.isdigit():
            return jsonify({"error": "count: must be a whole number"}), 400
        with lock:
            set_depth(tasks["depth"] - int(count))
            return jsonify({"queue": QUEUE, "depth": tasks["depth"]})

    @app.get("/chaos")
    def chaos_state() -> Any:
        return jsonify({**chaos.as_json(), "queue_depth": tasks["depth"]})

    @app.post("/chaos")
    def chaos_change() -> Any:
        with lock:
            try:
                extra = chaos.update(request.get_json(silent=True), {"queue_depth": (0, 1e6)})
            except ChaosError as exc:
                return jsonify({"error": str(exc)}), 400
            if "queue_depth" in extra:
                set_depth(int(extra["queue_depth"]))
        return chaos_state()

    @app.post("/chaos/reset")
    def chaos_reset() -> Any:
        with lock:
            chaos.reset()
            set_depth(0)
        return chaos_state()

    @app.post("/chaos/die")
    def chaos_die() -> Any:
        # Answer first, then exit: the process manager (or remediation) must notice.
        response = jsonify({"status": "exiting"})
        response.call_on_close(die)
        return response

    return app
