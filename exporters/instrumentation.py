"""Request metrics for a Flask application — the demo service and the webhook use it.

    metrics = instrument_app(app)                  # one process
    depth = metrics.gauge("task_queue_depth", "Tasks waiting.", ["queue"])
    depth.labels(queue="email").set(3)

Under gunicorn with several workers, each worker holds its own counters, so a
scrape would see one worker at random. prometheus_client's multiprocess mode
solves that with one file per worker and metric in a shared directory:

1. set `PROMETHEUS_MULTIPROC_DIR` to an empty directory in the environment of the
   gunicorn master, before it starts (prometheus_client reads it when imported);
2. pass the same directory in: `instrument_app(app, multiprocess_dir=...)`, e.g.
   `multiprocess_dir_from_env(os.environ)` in the app factory;
3. in the gunicorn config file: `from exporters.instrumentation import child_exit`,
   so a dead worker's live gauges (in-flight requests) stop counting;
4. empty the directory when the master starts (stale files from an earlier run
   would be summed in otherwise).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

# Prometheus' default buckets: they include exactly 5 s, the recovery plan's
# response-time threshold.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
UNMATCHED = "unmatched"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir_from_env(env: Mapping[str, str]) -> str | None:
    """The multiprocess directory named by the environment, for the app factory (the edge)."""
    return env.get(MULTIPROC_ENV) or env.get(MULTIPROC_ENV.lower()) or None


@dataclass
class AppMetrics:
    """The app's metrics and the registry its metrics endpoint serves."""

    registry: CollectorRegistry
    request_duration: Histogram
    exceptions: Counter
    in_flight: Gauge
    multiprocess_dir: str | None = None

    @property
    def _owner(self) -> CollectorRegistry | None:
        # In multiprocess mode values live in files that MultiProcessCollector reads;
        # registering the metric objects as well would publish each twice.
        return None if self.multiprocess_dir else self.registry

    def gauge(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        multiprocess_mode: str = "livemostrecent",
    ) -> Gauge:
        """A gauge of the app's own (e.g. `task_queue_depth{queue}`); under gunicorn
        the most recent value any live worker set is published."""
        return Gauge(
            name,
            documentation,
            labelnames,
            registry=self._owner,
            multiprocess_mode=multiprocess_mode,  # type: ignore[arg-type]
        )

    def counter(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Counter:
        return Counter(name, documentation, labelnames, registry=self._owner)

    def histogram(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = REQUEST_BUCKETS,
    ) -> Histogram:
        return Histogram(name, documentation, labelnames, registry=self._owner, buckets=buckets)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _build_metrics(registry: CollectorRegistry | None, multiprocess_dir: str | None) -> AppMetrics:
    if multiprocess_dir:
        if values.ValueClass is values.MutexValue:
            raise RuntimeError(
                f"multiprocess_dir={multiprocess_dir!r} but prometheus_client was imported without "
                f"{MULTIPROC_ENV} in the environment; set it before the process starts"
            )
        registry = registry or CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
        owner = None
    else:
        registry = registry or CollectorRegistry()
        owner = registry
    labels = ["handler", "method", "status"]
    return AppMetrics(
        registry=registry,
        request_duration=Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            labels,
            registry=owner,
            buckets=REQUEST_BUCKETS,
        ),
        exceptions=Counter(
            "http_request_exceptions",
            "Requests that ended in an unhandled exception.",
            ["handler", "method"],
            registry=owner,
        ),
        in_flight=Gauge(
            "http_requests_in_flight",
            "Requests being answered now.",
            registry=owner,
            multiprocess_mode="livesum",
        ),
        multiprocess_dir=multiprocess_dir,
    )


def _handler() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def instrument_app(
    app: Flask,
    registry: CollectorRegistry | None = None,
    metrics_path: str = "/metrics",
    multiprocess_dir: str | None = None,
    clock: Any = time.perf_counter,
) -> AppMetrics:
    """Record every request of `app` and serve the metrics at `metrics_path`."""
    metrics = _build_metrics(registry, multiprocess_dir)

    @app.before_request
    def _start() -> None:
        g._metrics_start = clock()
        g._metrics_observed = False
        metrics.in_flight.inc()

    @app.after_request
    def _observe(response: Response) -> Response:
        if "_metrics_start" in g:
            metrics.request_duration.labels(
                _handler(), request.method, str(response.status_code)
            ).observe(clock() - g._metrics_start)
            g._metrics_observed = True
        return response

    @app.teardown_request
    def _finish(exc: BaseException | None) -> None:
        if "_metrics_start" not in g:
            return  # a before_request hook ahead of ours answered or failed first
        if exc is not None:
            metrics.exceptions.labels(_handler(), request.method).inc()
            if not g._metrics_observed:  # propagated, so no response went through after_request
                metrics.request_duration.labels(_handler(), request.method, "500").observe(
                    clock() - g._metrics_start
                )
        metrics.in_flight.dec()

    def serve_metrics() -> Response:
        return Response(metrics.render(), mimetype=None, content_type=CONTENT_TYPE_LATEST)

    app.add_url_rule(metrics_path, endpoint="prometheus_metrics", view_func=serve_metrics)
    return metrics


def mark_process_dead(pid: int, multiprocess_dir: str) -> None:
    """Drop a dead worker's live gauges from the multiprocess directory."""
    multiprocess.mark_process_dead(pid, multiprocess_dir)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's `child_exit` hook; import it into the gunicorn config file.

    gunicorn's config is the process's edge, so reading the environment here is right.
    """
    directory = multiprocess_dir_from_env(os.environ)
    if directory:
        mark_process_dead(worker.pid, directory)
