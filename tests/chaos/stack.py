"""The stack a chaos test breaks, and the few things every such test does to it.

Two ways to get one, chosen by $CHAOS_STACK:
- unset (what `make test` does): each test module launches its own
  `python -m stack up --fast` on free ports under its tmp dir, and stops it;
- `running` (what `make chaos` does): the stack `make up FAST=1` runs from
  $CHAOS_ROOT (default: this checkout), found from its var/run/ (the bearer
  token file, supervisord's config) and the port variables `make up` read, so a
  person can watch its dashboard while the tests break it.

Everything else here reads what the stack records (GET /api/remediations,
/api/alerts) or asks supervisord over its XML-RPC socket, as a person would.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import signal
import time
import xmlrpc.client
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from integration.launcher import RECOVERED, launched
from prometheus_client.parser import text_string_to_metric_families
from supervisor.xmlrpc import SupervisorTransport
from support.procs import wait_until

from chaos.results import PLAN_RTO_SECONDS
from stack.ports import HOST, ports_from_env
from stack.supervisor import Layout

STACK_ENV = "CHAOS_STACK"
ROOT_ENV = "CHAOS_ROOT"
REPO = Path(__file__).resolve().parents[2]
TOKEN = "chaos-test-token"
# What `make up FAST=1` renders into Prometheus's config (every other profile
# has the plan's minutes, far past a chaos test's patience).
FAST_SCRAPE_INTERVAL = "1s"


@dataclass(frozen=True)
class ChaosStack:
    root: Path
    ports: dict[str, int]
    token: str

    def url(self, service: str, path: str = "") -> str:
        return f"http://{HOST}:{self.ports[service]}{path}"

    def _get(self, path: str, **params: Any) -> Any:
        response = requests.get(
            self.url("webhook", path),
            params=params,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=5,
        )
        response.raise_for_status()
        return response.json()

    def remediations(self, playbook: str | None = None, since: float = 0.0) -> list[dict[str, Any]]:
        """Runs (newest first) of `playbook` (else all) planned at or after `since`."""
        runs: list[dict[str, Any]] = self._get("/api/remediations")["remediations"]
        return [
            r
            for r in runs
            if (playbook is None or r["playbook"] == playbook) and r["planned_at"] >= since
        ]

    def alerts(self) -> dict[int, dict[str, Any]]:
        """Stored alerts by id."""
        return {a["id"]: a for a in self._get("/api/alerts", limit=1000)["alerts"]}

    def deliveries(self, alert_id: int) -> list[dict[str, Any]]:
        """The messages (deliveries) stored for one alert: who was told, and how."""
        deliveries: list[dict[str, Any]] = self._get("/api/deliveries", alert_id=alert_id)[
            "deliveries"
        ]
        return deliveries

    def answers(self, service: str, path: str = "/healthz") -> bool:
        with contextlib.suppress(requests.RequestException):
            return requests.get(self.url(service, path), timeout=1).ok
        return False

    def place_order(self, item: str = "chaos") -> requests.Response:
        """An order placed through the orders API, as a customer would."""
        return requests.post(self.url("demo", "/api/orders"), json={"item": item}, timeout=5)

    def samples(self, service: str, metric: str) -> dict[tuple[tuple[str, str], ...], float]:
        """`metric`'s samples on `service`'s /metrics, by their sorted labels."""
        text = requests.get(self.url(service, "/metrics"), timeout=5).text
        return {
            tuple(sorted(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == metric
        }

    def process_info(self, program: str) -> dict[str, Any]:
        """supervisord's record of `program`, asked over its XML-RPC socket with
        this run's login from its config."""
        conf = configparser.ConfigParser(interpolation=None)
        conf.read(Layout(self.root).conf)
        login = conf["supervisorctl"]
        transport = SupervisorTransport(login["username"], login["password"], login["serverurl"])
        with xmlrpc.client.ServerProxy(f"http://{HOST}", transport=transport) as proxy:
            info: Any = proxy.supervisor.getProcessInfo(program)
        return dict(info)

    def pid(self, program: str) -> int | None:
        """The pid of `program` while supervisord has it RUNNING."""
        info = self.process_info(program)
        return int(info["pid"]) if info["statename"] == "RUNNING" and info["pid"] else None

    def kill(self, program: str) -> int:
        """kill -9 `program` (its whole process group: a gunicorn worker orphaned
        by a kill of its master alone keeps the port, and no restart could bind
        it); returns the pid killed."""
        pid = self.pid(program)
        assert pid, f"{program} is not running"
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
        return pid


def severity_rto(stack: ChaosStack, run: dict[str, Any]) -> float:
    """The plan's RTO for the severity of the alert that planned `run`."""
    severity = stack.alerts()[run["alert_id"]]["labels"]["severity"]
    return PLAN_RTO_SECONDS[severity]


def wait_recovered(
    stack: ChaosStack, playbook: str, service: str, since: float, timeout: float = 60.0
) -> tuple[dict[str, Any], float]:
    """The first run of `playbook` planned since `since` that recovered, once
    `service` answers again, and the moment both held (the recovery's end)."""
    found: dict[str, Any] = {}

    def recovered() -> bool:
        done = [r for r in stack.remediations(playbook, since) if r["status"] == RECOVERED]
        if done and stack.answers(service):
            found.update(run=done[-1], at=time.time())
        return bool(found)

    wait_until(recovered, timeout, f"{service} recovered by {playbook}", interval=0.1)
    return found["run"], found["at"]


def running_stack(env: Mapping[str, str]) -> ChaosStack:
    """The stack `make up FAST=1` runs from $CHAOS_ROOT; a clear failure if there is none."""
    root = Path(env.get(ROOT_ENV) or REPO).resolve()
    layout = Layout(root)
    token_file = layout.run / "webhook-token"
    if not layout.conf.is_file() or not token_file.is_file():
        pytest.fail(f"{STACK_ENV}=running: no stack started from {root}: run `make up FAST=1`")
    stack = ChaosStack(root, ports_from_env(env), token_file.read_text().strip())
    if not stack.answers("webhook", "/readyz"):
        pytest.fail(f"{STACK_ENV}=running: the webhook at {stack.url('webhook')} does not answer")
    prometheus = yaml.safe_load((layout.run / "prometheus.yml").read_text())
    if prometheus.get("global", {}).get("scrape_interval") != FAST_SCRAPE_INTERVAL:
        pytest.fail(f"{STACK_ENV}=running: the stack at {root} runs the plan's windows: FAST=1")
    return stack


@contextlib.contextmanager
def chaos_stack_for(base: Path, env: Mapping[str, str]) -> Iterator[ChaosStack]:
    """The stack for one test module: the running one, or one launched under `base`."""
    mode = env.get(STACK_ENV, "").strip()
    if mode == "running":
        yield running_stack(env)
        return
    if mode:
        pytest.fail(f"{STACK_ENV}={mode}: must be `running` or unset")
    root = base / "stack"
    root.mkdir()
    with launched(root, TOKEN, ["--fast"]) as up:
        yield ChaosStack(root, up.ports, up.token)
