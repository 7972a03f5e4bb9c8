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
The scenarios' steps that a test and bench/recovery_time.py both take live
here too: when a playbook's guardrails let a run through, and the dependency's
failover chain (scenario 7), instance by instance.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import signal
import time
import xmlrpc.client
from collections.abc import Callable, Iterator, Mapping
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

from alert_webhook.app.actions import registered_actions
from alert_webhook.remediation.playbooks import load_playbooks
from chaos.results import PLAN_RTO_SECONDS
from demo.dependency import ActiveInstance
from stack.ports import DEPENDENCY_INSTANCES, HOST, ports_from_env
from stack.render import FAST_COOLDOWN_SECONDS
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

    def firing(self, alertname: str) -> list[dict[str, Any]]:
        """The stored alerts named `alertname` that are firing now."""
        alerts = self._get("/api/alerts", status="firing", limit=1000)["alerts"]
        return [a for a in alerts if a["alertname"] == alertname]

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
    stack: ChaosStack,
    playbook: str,
    service: str,
    since: float,
    timeout: float = 60.0,
    answering: Callable[[], bool] | None = None,
) -> tuple[dict[str, Any], float]:
    """The first run of `playbook` planned since `since` that recovered, once
    `service` answers again (or `answering` says it does: a service on a fleet
    host), and the moment both held (the recovery's end)."""
    found: dict[str, Any] = {}
    answers = answering or (lambda: stack.answers(service))

    def recovered() -> bool:
        done = [r for r in stack.remediations(playbook, since) if r["status"] == RECOVERED]
        if done and answers():
            found.update(run=done[-1], at=time.time())
        return bool(found)

    wait_until(recovered, timeout, f"{service} recovered by {playbook}", interval=0.1)
    return found["run"], found["at"]


class NoChaosStack(Exception):
    """Why there is no stack to break, and what to do about it, in one line."""


def running_stack(env: Mapping[str, str]) -> ChaosStack:
    """The stack `make up FAST=1` runs from $CHAOS_ROOT; NoChaosStack if there is none."""
    root = Path(env.get(ROOT_ENV) or REPO).resolve()
    layout = Layout(root)
    token_file = layout.run / "webhook-token"
    start = (
        f"start one with `make up FAST=1` (from {root}, in another terminal), then run this again"
    )
    if not layout.conf.is_file() or not token_file.is_file():
        raise NoChaosStack(f"no stack was ever started from {root}: {start}")
    stack = ChaosStack(root, ports_from_env(env), token_file.read_text().strip())
    if not stack.answers("webhook", "/readyz"):
        raise NoChaosStack(
            f"no stack answers at {stack.url('webhook')} (the webhook of a stack from "
            f"{root}; WEBHOOK_PORT moves it): {start}"
        )
    with contextlib.suppress(OSError, yaml.YAMLError, AttributeError):
        prometheus = yaml.safe_load((layout.run / "prometheus.yml").read_text())
        if prometheus.get("global", {}).get("scrape_interval") == FAST_SCRAPE_INTERVAL:
            return stack
    raise NoChaosStack(
        f"the stack running from {root} has the plan's windows (minutes, not seconds: "
        "it was started without FAST=1): stop it with Ctrl-C and start it with `make up FAST=1`"
    )


@contextlib.contextmanager
def chaos_stack_for(base: Path, env: Mapping[str, str]) -> Iterator[ChaosStack]:
    """The stack for one test module: the running one, or one launched under `base`."""
    mode = env.get(STACK_ENV, "").strip()
    if mode == "running":
        try:
            stack = running_stack(env)
        except NoChaosStack as exc:
            pytest.fail(f"{STACK_ENV}=running: {exc}", pytrace=False)
        yield stack
        return
    if mode:
        pytest.fail(f"{STACK_ENV}={mode}: must be `running` or unset")
    root = base / "stack"
    root.mkdir()
    with launched(root, TOKEN, ["--fast"]) as up:
        yield ChaosStack(root, up.ports, up.token)


def guardrails_allow_at(root: Path, runs: list[dict[str, Any]], playbook: str) -> float:
    """The wall time after which `playbook`'s cooldown and attempt budget (of the
    file the webhook under `root` runs), given its `runs`, let a new run through:
    a run planned before then is blocked, not retried, so a test that breaks a
    stack an earlier run (or an earlier `make chaos`) just mended waits first."""
    settings = yaml.safe_load((Layout(root).run / "webhook.yml").read_text()) or {}
    books = load_playbooks(Path(settings["remediation"]["playbooks_file"]), registered_actions())
    book = next(p for p in books.playbooks if p.name == playbook)
    started = sorted(r["started_at"] for r in runs if r["started_at"] is not None)
    at = started[-1] + book.cooldown if started else 0.0
    if len(started) >= book.max_attempts:
        at = max(at, started[-book.max_attempts] + book.window)
    return at + 0.5


def wait_for_guardrails(root: Path, runs: list[dict[str, Any]], playbook: str) -> None:
    """Until `playbook`'s guardrails, given its `runs`, would let a run of it through."""
    time.sleep(max(0.0, guardrails_allow_at(root, runs, playbook) - time.time()))


# Scenario 7: the dependency's instances failed one by one with their chaos switch.
FAILOVER = "fail-over-dependency"


def dependency_chaos(stack: ChaosStack, instance: str, path: str, body: Any = None) -> None:
    """POST to a dependency instance's chaos switch (`/chaos`, `/chaos/reset`)."""
    response = requests.post(stack.url(DEPENDENCY_INSTANCES[instance], path), json=body, timeout=5)
    assert response.ok, response.text


def mend_dependency(stack: ChaosStack) -> None:
    for instance in DEPENDENCY_INSTANCES:
        dependency_chaos(stack, instance, "/chaos/reset")


def active_dependency(stack: ChaosStack) -> str:
    """The instance the `active` link names, once the API's metric says the same."""
    link = ActiveInstance(Layout(stack.root).dependency).current().name
    gauge = stack.samples("demo", "demo_dependency_active")
    assert gauge[(("backend", link),)] == 1.0, gauge
    return link


def served_by(stack: ChaosStack, instance: str) -> bool:
    """An order placed now is reserved by `instance`."""
    order = stack.place_order()
    return order.status_code == 201 and order.json()["backend"] == instance


def fail_active_and_wait(stack: ChaosStack, failing: str, to: str) -> tuple[dict[str, Any], float]:
    """Break `failing` (the active instance) and wait until orders go to `to`:
    the failover's run, and the seconds from the break until then."""
    assert active_dependency(stack) == failing
    broken_at = time.time()
    dependency_chaos(stack, failing, "/chaos", {"error_ratio": 1})
    run, _switched = wait_recovered(stack, FAILOVER, DEPENDENCY_INSTANCES[to], broken_at)
    wait_until(
        lambda: active_dependency(stack) == to and served_by(stack, to), 15, f"orders via {to}"
    )
    seconds = time.time() - broken_at
    [step] = run["steps"]
    assert (step["action"], step["status"]) == ("failover", "succeeded"), run
    alert = stack.alerts()[run["alert_id"]]
    assert (alert["alertname"], alert["labels"]["probe"]) == (
        "ServiceUnavailable",
        f"dependency-{failing}",
    ), alert
    return run, seconds


def past_cooldown(run: dict[str, Any]) -> None:
    """Until the failover's cooldown after `run` has passed."""
    wait_until(
        lambda: time.time() > run["finished_at"] + FAST_COOLDOWN_SECONDS + 0.5,
        FAST_COOLDOWN_SECONDS + 5,
        f"{FAILOVER}'s cooldown",
    )


def fail_last_and_wait_told(
    stack: ChaosStack, failing: str
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], float]:
    """Break `failing`, the last healthy instance, and wait until its failover
    has failed and the run's escalation is on the dashboard (the plan's "alert
    for manual intervention"): the failed run, its escalation's deliveries by
    channel, and the seconds from the break until the dashboard had it."""
    broken_at = time.time()
    dependency_chaos(stack, failing, "/chaos", {"error_ratio": 1})
    found: dict[str, Any] = {}

    def escalated() -> bool:
        failed = [r for r in stack.remediations(FAILOVER, broken_at) if r["status"] == "failed"]
        if failed:
            run, purpose = failed[-1], f"remediation-{failed[-1]['id']}"
            told = {d["channel"]: d for d in stack.deliveries(run["alert_id"])
                    if d["purpose"] == purpose}  # fmt: skip
            if "dashboard" in told:
                found.update(run=run, told=told, at=time.time())
        return bool(found)

    wait_until(escalated, 60, "the last failover to fail and its escalation on the dashboard")
    return found["run"], found["told"], found["at"] - broken_at
