"""A small instrumented HTTP API with switches to make it slow, failing or dead.

It stands in for the plan's business services (email, ERP, social-media API) so
every alert and recovery can be shown on something real:

- `GET /api/orders` is the business endpoint, subject to the chaos settings;
- `POST /api/tasks` enqueues work, `POST /api/tasks/drain` works some off;
  the backlog is `task_queue_depth{queue="default"}`;
- `GET|POST /chaos` reads or changes `latency_seconds`, `error_ratio`,
  `queue_depth`; `POST /chaos/reset` restores health; `POST /chaos/die` exits.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from flask import Flask, jsonify, request
from prometheus_client import CollectorRegistry

from exporters.instrumentation import instrument_app

QUEUE = "default"


@dataclass
class Chaos:
    latency_seconds: float = 0.0
    error_ratio: float = 0.0


class ChaosError(ValueError):
    pass


def _number(data: dict[str, Any], key: str, low: float, high: float) -> float | None:
    if key not in data:
        return None
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ChaosError(f"{key}: must be a number from {low:g} to {high:g}")
    return float(value)


def create_app(
    *,
    registry: CollectorRegistry | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
    die: Callable[[], None] = lambda: os.kill(os.getpid(), signal.SIGTERM),
) -> Flask:
    app = Flask(__name__)
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    metrics = instrument_app(app, registry)
    queue_depth = metrics.gauge("task_queue_depth", "Tasks waiting in the queue.", ["queue"])
    chaos = Chaos()
    tasks = {"depth": 0}
    lock = threading.Lock()

    def set_depth(depth: int) -> None:
        tasks["depth"] = max(0, depth)
        queue_depth.labels(QUEUE).set(tasks["depth"])

    set_depth(0)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok"})

    @app.get("/api/orders")
    def orders() -> Any:
        if chaos.latency_seconds:
            sleep(chaos.latency_seconds)
        if chaos.error_ratio and rand() < chaos.error_ratio:
            return jsonify({"error": "injected failure (chaos.error_ratio)"}), 500
        return jsonify({"orders": [{"id": 1, "status": "shipped"}, {"id": 2, "status": "open"}]})

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
        return jsonify({**asdict(chaos), "queue_depth": tasks["depth"]})

    @app.post("/chaos")
    def chaos_change() -> Any:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return jsonify({"error": "body: must be a JSON object"}), 400
        unknown = set(data) - {"latency_seconds", "error_ratio", "queue_depth"}
        if unknown:
            return jsonify({"error": f"{sorted(unknown)[0]}: unknown setting"}), 400
        try:
            latency = _number(data, "latency_seconds", 0, 600)
            ratio = _number(data, "error_ratio", 0, 1)
            depth = _number(data, "queue_depth", 0, 1_000_000)
        except ChaosError as exc:
            return jsonify({"error": str(exc)}), 400
        with lock:
            if latency is not None:
                chaos.latency_seconds = latency
            if ratio is not None:
                chaos.error_ratio = ratio
            if depth is not None:
                set_depth(int(depth))
        return chaos_state()

    @app.post("/chaos/reset")
    def chaos_reset() -> Any:
        with lock:
            chaos.latency_seconds = chaos.error_ratio = 0.0
            set_depth(0)
        return chaos_state()

    @app.post("/chaos/die")
    def chaos_die() -> Any:
        # Answer first, then exit: the process manager (or remediation) must notice.
        response = jsonify({"status": "exiting"})
        response.call_on_close(die)
        return response

    return app
