"""Scenario 5, network partition, on `make up FAST=1`'s stack.

The dependency's primary is moved behind a link the test can cut: it runs in a
network namespace (tests/support/faults.py `isolated_host`), and the stack's
own `dependency_primary` program is stopped and replaced on its loopback port
by a forwarder (tests/support/forwarder.py) relaying there. Everything in the
stack that reaches the primary — its probe, the failover health checks, the
orders API — still dials 127.0.0.1:<port>, unchanged, and once the link is cut
its connections are accepted and then hang: no refusal, no reset, only the
client's own timeout, as across a partition.

Cut → the probe times out (category `timeout`) → ServiceUnavailable →
fail-over-dependency switches the `active` link to the secondary → orders are
placed through it. Mend → the switch-back duty returns to the primary once it
has been healthy for `switch_back_after` (10 s on the fast profile).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from integration.launcher import RECOVERED, Launched, launched
from support.faults import IsolatedHost
from support.forwarder import forwarding
from support.procs import free_port, wait_until

from alert_webhook.remediation.states import RunStatus
from chaos.results import PLAN_RTO_SECONDS, record
from demo.dependency import ACTIVE_LINK, URL_SUFFIX
from stack.ports import HOST
from stack.render import FAST_COOLDOWN_SECONDS
from stack.supervisor import Layout

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-for-partition"
PLAYBOOK = "fail-over-dependency"
SWITCH_BACK_AFTER = 10.0  # stack/render.py dependency_failover, fast profile
COOLDOWN = FAST_COOLDOWN_SECONDS  # fail-over-dependency's, on the fast profile
# ServiceUnavailable is critical: the plan's RTO for critical services.
RTO_CRITICAL = PLAN_RTO_SECONDS["critical"]
GOAL = 20.0  # the fast-profile goal for a partition
pytestmark = pytest.mark.timeout(300)


@dataclass(frozen=True)
class Partition:
    """The primary behind a cuttable link, and how to reach the stack."""

    stack: Launched
    host: IsolatedHost

    def active(self) -> str:
        link = Layout(self.stack.root).dependency / ACTIVE_LINK
        return Path(os.readlink(link)).name.removesuffix(URL_SUFFIX)

    def order_through(self) -> str | None:
        """Place an order; the instance that reserved it, None if it was refused."""
        try:
            answer = requests.post(
                self.stack.url("demo", "/api/orders"), json={"item": "partition"}, timeout=5
            )
        except requests.RequestException:
            return None
        backend: str | None = answer.json().get("backend") if answer.status_code == 201 else None
        return backend

    def wait_for_orders_through(self, instance: str, timeout: float) -> float:
        """Wall time at which an order first went through `instance`."""
        wait_until(lambda: self.order_through() == instance, timeout, f"orders via {instance}")
        return time.time()

    def gauge(self) -> dict[str, float]:
        """The orders API's `demo_dependency_active{backend}`."""
        text = requests.get(self.stack.url("demo", "/metrics"), timeout=5).text
        prefix = 'demo_dependency_active{backend="'
        return {
            line[len(prefix) :].split('"')[0]: float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith(prefix)
        }

    def firing(self) -> list[dict[str, Any]]:
        response = requests.get(
            self.stack.url("webhook", "/api/alerts"), params={"status": "firing"}, timeout=5
        )
        response.raise_for_status()
        alerts: list[dict[str, Any]] = response.json()["alerts"]
        return [a for a in alerts if a["labels"].get("service") == "dependency"]

    def runs(self, since: float) -> list[dict[str, Any]]:
        return [
            r
            for r in self.stack.remediations()
            if r["playbook"] == PLAYBOOK and r["planned_at"] >= since
        ]


@contextlib.contextmanager
def primary_behind_link(stack: Launched, host: IsolatedHost) -> Iterator[Partition]:
    """The primary served from `host`, reached through a forwarder on its old port."""
    port = stack.ports["dependency_primary"]
    argv = [sys.executable, "-m", "demo", "dependency", "--name=primary",
            f"--bind={host.address}:{port}"]  # fmt: skip
    log = (stack.root / "partitioned-primary.log").open("w")
    server = subprocess.Popen(host.argv(argv), cwd=REPO, stdout=log, stderr=log)
    try:
        wait_until(lambda: _answers(f"http://{host.address}:{port}/healthz"), 30, "moved primary")
        stopped = stack.ctl("stop", "dependency_primary")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        with forwarding((HOST, port), (host.address, port)):
            yield Partition(stack, host)
    finally:
        server.kill()
        server.wait()
        log.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


def settled(partition: Partition, hold: float = 5.0) -> None:
    """The primary active and answering through the forwarder, with nothing about
    the dependency firing, for `hold` seconds on end: the moment between stopping
    the program and the forwarder listening may have been seen as an outage, and
    its alert must have come and gone (and any failover of it been switched
    back) before the cut, or the run that follows would be that alert's."""
    steady_since = [time.monotonic()]

    def steady() -> bool:
        ok = (
            partition.active() == "primary"
            and partition.order_through() == "primary"
            and not partition.firing()
        )
        if not ok:
            steady_since[0] = time.monotonic()
        return ok and time.monotonic() - steady_since[0] >= hold

    wait_until(steady, 90, "the stack settled on the moved primary")
    # A failover made during that moment leaves its playbook cooling down.
    earlier = [r["started_at"] for r in partition.runs(0.0) if r["started_at"]]
    if earlier:
        time.sleep(max(0.0, max(earlier) + COOLDOWN + 0.5 - time.time()))


@dataclass(frozen=True)
class Measured:
    recovery: float  # cut → orders placed through the secondary and the run recorded
    orders: float  # cut → the first order placed through the secondary
    switch_back: float  # mend → the first order placed through the primary again
    run: dict[str, Any]  # fail-over-dependency's run for the partition
    gauge: dict[str, float]  # demo_dependency_active while failed over


def partition_once(partition: Partition) -> Measured:
    """Cut; wait for orders through the secondary and for the failover's run to
    be judged (verified against Prometheus); mend; wait for the primary."""
    settled(partition)
    cut_at = time.time()
    partition.host.cut()
    try:
        orders_at = partition.wait_for_orders_through("secondary", 60)
        gauge = partition.gauge()
        wait_until(
            lambda: any(RunStatus(r["status"]).final for r in partition.runs(cut_at)),
            30,
            "the failover's run judged",
        )
        recovered_at = time.time()
    finally:
        partition.host.mend()
    mended_at = time.time()
    [run] = partition.runs(cut_at)
    back_at = partition.wait_for_orders_through("primary", 60)
    return Measured(recovered_at - cut_at, orders_at - cut_at, back_at - mended_at, run, gauge)


@pytest.fixture
def partition(partitionable_host: IsolatedHost, tmp_path: Path) -> Iterator[Partition]:
    root = tmp_path / "stack"
    root.mkdir()
    with (
        launched(root, TOKEN, ["--fast"]) as stack,
        primary_behind_link(stack, partitionable_host) as moved,
    ):
        yield moved


def test_the_forwarder_relays_and_hangs_with_the_cut_link(partitionable_host, tmp_path) -> None:
    host, port, listen = partitionable_host, free_port(), free_port()
    argv = [sys.executable, "-m", "demo", "dependency", "--name=primary",
            f"--bind={host.address}:{port}"]  # fmt: skip
    server = subprocess.Popen(host.argv(argv), cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _answers(f"http://{host.address}:{port}/healthz"), 30, "the server")
        with forwarding((HOST, listen), (host.address, port)):
            url = f"http://{HOST}:{listen}/healthz"
            assert requests.get(url, timeout=2).json() == {"status": "ok", "instance": "primary"}
            host.cut()
            started = time.monotonic()
            with pytest.raises(requests.ReadTimeout):
                requests.get(url, timeout=1.5)
            assert time.monotonic() - started >= 1.4, "hung until the client gave up"
            host.mend()
            wait_until(lambda: _answers(url), 10, "answers again once mended")
    finally:
        server.kill()
        server.wait()


def test_a_partitioned_primary_fails_over_to_the_secondary_and_back(partition) -> None:
    measured = partition_once(partition)
    run = measured.run
    assert run["status"] == RECOVERED, run
    [alert] = [a for a in _alerts(partition.stack) if a["id"] == run["alert_id"]]
    assert alert["alertname"] == "ServiceUnavailable", alert
    assert alert["labels"]["probe"] == "dependency-primary", alert
    assert alert["labels"]["category"] == "timeout", "hanging, not refused"
    [step] = run["steps"]
    assert step["action"] == "failover"
    assert "dependency: primary -> secondary" in step["output"], step["output"]
    assert measured.gauge == {"primary": 0.0, "secondary": 1.0, "tertiary": 0.0}
    # Back on the primary only after it had been healthy for switch_back_after.
    assert measured.switch_back >= SWITCH_BACK_AFTER, measured
    assert partition.active() == "primary"
    assert partition.gauge() == {"primary": 1.0, "secondary": 0.0, "tertiary": 0.0}
    record("network_partition", measured.recovery, RTO_CRITICAL)
    record("network_partition_switch_back", measured.switch_back, RTO_CRITICAL)
    print(f"partition: orders via the secondary {measured.orders:.2f} s after the cut, "
          f"its run {run['status']} at {measured.recovery:.2f} s; "
          f"via the primary {measured.switch_back:.2f} s after the mend")  # fmt: skip
    assert measured.recovery <= GOAL, f"failed over in {measured.recovery:.1f} s (goal {GOAL:g} s)"


def _alerts(stack: Launched) -> list[dict[str, Any]]:
    response = requests.get(stack.url("webhook", "/api/alerts"), params={"limit": 1000}, timeout=5)
    response.raise_for_status()
    alerts: list[dict[str, Any]] = response.json()["alerts"]
    return alerts
