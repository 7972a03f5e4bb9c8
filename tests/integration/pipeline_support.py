"""A small real pipeline for the webhook's own timing tests: Prometheus with the
rules a test gives it, Alertmanager with the shipped routes, the webhook as a
process on a store the test prepared, and a target whose metric the test turns
on and off. Free loopback ports; every process stopped when the block ends."""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml
from support.procs import find_binary, free_port, python_module, running

from stack.ports import HOST, SERVICES
from stack.render import render_alertmanager
from stack.up import TOKEN_ENV

REPO = Path(__file__).resolve().parents[2]


class Switch:
    """A scrape target publishing `switch_on` 1 or 0, as the test sets it."""

    def __init__(self) -> None:
        self.on = True
        switch = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = f"switch_on {1 if switch.on else 0}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.address = f"{HOST}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Switch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class Pipeline:
    ports: dict[str, int]
    token: str
    home: Path

    def url(self, service: str, path: str = "") -> str:
        return f"http://{HOST}:{self.ports[service]}{path}"

    def alerts(self, alertname: str, status: str | None = None) -> list[dict[str, Any]]:
        """The webhook's record of `alertname`'s instances (GET /api/alerts)."""
        params = {"status": status} if status else {}
        resp = requests.get(self.url("webhook", "/api/alerts"), params=params, timeout=5)
        resp.raise_for_status()
        return [a for a in resp.json()["alerts"] if a["alertname"] == alertname]


def pipeline_ports() -> dict[str, int]:
    return {service.name: free_port() for service in SERVICES}


def alertmanager_config(
    home: Path, ports: dict[str, int], token: str, group_wait: str, fast: bool = False
) -> Path:
    """The shipped alertmanager.yml (routes, group_interval, inhibitions) pointed at
    the test's webhook, each route's first wait cut to `group_wait` so the alert
    arrives quickly; every group_interval stays as shipped, or with `fast` is the
    fast profile's 1 s (`make up FAST=1`)."""
    (home / "alertmanager").mkdir(parents=True, exist_ok=True)
    path = render_alertmanager(home / "alertmanager", ports, token, fast=fast)
    config = yaml.safe_load(path.read_text())

    def shorten(route: dict[str, Any]) -> None:
        route["group_wait"] = group_wait
        for child in route.get("routes", []):
            shorten(child)

    shorten(config["route"])
    path.write_text(yaml.safe_dump(config))
    return path


def prometheus_config(
    home: Path, ports: dict[str, int], switch: Switch, rules: list[dict[str, Any]]
) -> Path:
    """Prometheus evaluating `rules` every second over the switch, sending to
    Alertmanager."""
    (home / "prometheus").mkdir(parents=True, exist_ok=True)
    rule_file = home / "prometheus" / "rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "test", "rules": rules}]}))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rule_file)],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [f"{HOST}:{ports['alertmanager']}"]}]}
            ]
        },
        "scrape_configs": [
            {"job_name": "switch", "static_configs": [{"targets": [switch.address]}]}
        ],
    }
    path = home / "prometheus" / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.contextmanager
def webhook(home: Path, ports: dict[str, int], token: str, config: dict[str, Any]) -> Iterator[Any]:
    """The webhook process with `config` (its store and Alertmanager's address
    are the test's), until the block ends."""
    links = {"alertmanager_url": f"http://{HOST}:{ports['alertmanager']}"}
    settings = {**config, "links": {**links, **config.get("links", {})}}
    path = home / "webhook.yml"
    path.write_text(yaml.safe_dump(settings))
    argv = python_module("alert_webhook", f"--config={path}", f"--bind={HOST}:{ports['webhook']}")
    ready = f"http://{HOST}:{ports['webhook']}/readyz"
    # This checkout's webhook, whatever the interpreter has installed.
    env = {TOKEN_ENV: token, "PYTHONPATH": str(REPO)}
    with running("webhook", argv, home, ready_url=ready, env=env, cwd=home) as proc:
        yield proc


@contextlib.contextmanager
def alerting(
    home: Path,
    ports: dict[str, int],
    token: str,
    switch: Switch,
    rules: list[dict[str, Any]],
    group_wait: str = "1s",
    resend_delay: str = "1m",
    fast: bool = False,
) -> Iterator[None]:
    """Alertmanager, then Prometheus (as `make up` starts them), until the block ends;
    `fast`: Alertmanager's routes on the fast profile."""
    am_config = alertmanager_config(home, ports, token, group_wait, fast)
    am = [
        find_binary("ALERTMANAGER_BIN"), f"--config.file={am_config}",
        f"--storage.path={home / 'alertmanager' / 'data'}",
        f"--web.listen-address={HOST}:{ports['alertmanager']}", "--cluster.listen-address=",
    ]  # fmt: skip
    prometheus = [
        find_binary("PROMETHEUS_BIN"),
        f"--config.file={prometheus_config(home, ports, switch, rules)}",
        f"--storage.tsdb.path={home / 'prometheus' / 'data'}",
        f"--web.listen-address={HOST}:{ports['prometheus']}",
        f"--rules.alert.resend-delay={resend_delay}",
    ]  # fmt: skip
    am_ready = f"http://{HOST}:{ports['alertmanager']}/-/ready"
    prom_ready = f"http://{HOST}:{ports['prometheus']}/-/ready"
    with (
        running("alertmanager", am, home, ready_url=am_ready, cwd=home),
        running("prometheus", prometheus, home, ready_url=prom_ready, cwd=home),
    ):
        yield


def new_token() -> str:
    return secrets.token_urlsafe(16)
