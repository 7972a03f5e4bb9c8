"""Benchmark recovery through the whole alert path, scenario by scenario, against
the plan's RTO (and RPO where data is involved), on the fast profile.

    .venv/bin/python bench/recovery_time.py
        [--scenarios single,multi,corruption,partition,starvation,hog,dependency,complete,fleet]
        [--runs 10] [--complete-runs 3] [--default-profile]

Every scenario that has a chaos test in tests/chaos/ is measured here with
that test's own steps (imported from its module, or from tests/chaos/stack.py
where a test and this script both need them), `--runs` times on one stack
unless said otherwise, each run waiting first for the playbook's guardrails
(cooldown, attempt budget, as the rendered playbook file sets them) so that no
run is blocked by the one before it:

- `single` (scenario 1's shape): kill -9 the demo, and time until it answers
  again, brought back by the webhook's `restart-demo` playbook (probe →
  Prometheus → ServiceUnavailable → Alertmanager → webhook → supervisord).
  Starts `python -m stack up --fast` (or, with --default-profile, the plan's
  windows, for one run) on free ports under a temporary root, then for each run:
  waits until the demo answers and ServiceUnavailable is no longer firing,
  kills the demo's process group with SIGKILL and polls every 50 ms until the
  demo answers again *and* the run is recorded with its outcome (GET
  /api/remediations): that is the recovery time. The stack's own overhead is
  read from the recorded times: the run's `planned_at` (when the webhook
  received Alertmanager's POST) to its step's `started_at`.
- `multi` (scenario 2): both business services (the demo and its worker)
  killed with kill -9 at once, as tests/chaos/test_multi_service.py does it
  (its kill and its wait): timed until both were recovered by their own
  playbooks and answer.
- `corruption` (scenario 4): tests/chaos/test_data_corruption.py's
  `corrupt_once`: a page of the orders file garbled → DataIntegrityCheckFailing
  → `restore-orders` restores the newest verified state of the Litestream
  replica → verified and the probe passing; the writes lost (seconds, and
  orders) against the RPO. Then its `replica_check`: whether the replica,
  rebuilt after an order placed after the restore, is the restored file plus
  that order (where it is not, the next run's restore would fall back to an
  older state, and its data lost says what that costs).
- `partition` (scenario 5): the dependency's primary behind a link that is cut
  and mended, as tests/chaos/test_network_partition.py does it: cut → orders
  placed through the secondary and the failover's run verified, and mend →
  orders through the primary again (the switch-back). Needs network
  namespaces (root); skipped with the kernel's reason otherwise.
- `starvation` (scenario 6, the disk): tests/chaos/test_resource_starvation.py's
  loop-mounted small filesystem and `starve_once`: filled past
  HostDiskSpaceLow's threshold with a stale temporary file → the test's
  `cleanup_disk` playbook → verified and the space free. Each run waits for
  the alert of the last to resolve. Skipped with the kernel's reason where
  mounting is refused.
- `hog` (scenario 6, a memory hog): tests/chaos/test_resource_hog.py's
  `hog_once`: the demo told to hold 256 MiB → the system exporter's process
  group crosses the fast ProcessMemoryHigh limit → `restart-hogging-demo-program`
  restarts it through supervisord → verified. Each run waits for the last
  one's alert to resolve. ProcessMemoryHigh is high: its RTO is 15 min.
- `dependency` (scenario 7): tests/chaos/stack.py's failover chain, as
  tests/chaos/test_dependency_failure.py takes it: the primary answers 5xx →
  the secondary, then the secondary → the tertiary, then the tertiary → the
  last failover fails and its escalation is on the dashboard (the plan's alert
  for manual intervention); all mended → the switch back to the primary. One
  row per step.
- `complete` (scenario 3): tests/chaos/test_complete_failure.py's drill,
  `--complete-runs` times, each on a new root: everything killed with SIGKILL,
  launched again; the second launch's "up" → the waiting delivery delivered, the
  interrupted run recorded, the demo back; orders lost against the RPO.
- `fleet` (issue 24): `stack up --fast --hosts 3`, the demo on host-2 killed
  with kill -9 and brought back by `restart-demo-on-host` through Ansible
  (ansible-runner, SSH to the host's own sshd), timed until it answers and the
  run is verified; each run split into detection, Ansible (of which the tasks)
  and verification, once per SSH setting (connection reuse, pipelining) side by
  side, plus the executor alone (runs per minute, Ansible's CPU per run) and
  the webhook's memory: bench/_fleet.py. Skipped where sshd is not installed.

Prints one table of every scenario run (median and max beside the fast
profile's goal, the plan's RTO for the priority of what broke, data lost
beside the RPO) and writes it, with every run's figures, as JSON under
bench/results/. A scenario that fails (a recovery that never came) is named
with its error at the end, exit status 1, and the others' figures are kept.
Never part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml
from pydantic import TypeAdapter

from alert_webhook.remediation.states import RunStatus
from stack.ports import SERVICES
from stack.up import stop_process
from toolkit.config import Duration

ROOT = Path(__file__).resolve().parent.parent
# The chaos tests' helpers (tests/chaos/, tests/support/, tests/integration/).
sys.path.insert(0, str(ROOT / "tests"))
from chaos.results import PLAN_RPO_CRITICAL_SECONDS, PLAN_RTO_SECONDS  # noqa: E402

GOALS = {"median_s": 10.0, "max_s": 20.0, "overhead_p99_ms": 200.0}
# Over the default profile's detection window (probe interval, scrape and
# evaluation, the rule's `for`, Alertmanager's group_wait).
DEFAULT_MARGIN_S = 30.0
PLAYBOOK = "restart-demo"
# A run whose playbook fixed what fired (a restart that left the demo running).
RECOVERED = RunStatus.VERIFIED.value
POLL_S = 0.05
SECONDS = TypeAdapter(Duration)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if found := check():
                return found
        except requests.RequestException:
            pass
        time.sleep(POLL_S)
    raise TimeoutError(f"no {what} within {timeout:.0f} s")


class Stack:
    """`python -m stack up` under `root`, on free ports."""

    def __init__(self, root: Path, fast: bool) -> None:
        self.root, self.fast = root, fast
        self.ports = {s.name: free_port() for s in SERVICES}
        env = {**os.environ, **{s.env_var: str(self.ports[s.name]) for s in SERVICES}}
        argv = [sys.executable, "-m", "stack", "up", f"--root={root}"] + (["--fast"] * fast)
        self.log = (root / "launcher.log").open("w")
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log, stderr=self.log)
        wait(lambda: self.up(), 120, "stack (see launcher.log)")

    def up(self) -> bool:
        if self.proc.poll() is not None:
            raise SystemExit((self.root / "launcher.log").read_text())
        return "recovery-stack is up" in (self.root / "launcher.log").read_text()

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def get(self, service: str, path: str) -> Any:
        response = requests.get(self.url(service, path), timeout=2)
        response.raise_for_status()
        return response.json()

    def demo_pid(self) -> int | None:
        argv = [sys.executable, "-m", "stack", "ctl", f"--root={self.root}", "status", "demo"]
        words = subprocess.run(argv, capture_output=True, text=True, check=False).stdout.split()
        return int(words[3].rstrip(",")) if words[1:2] == ["RUNNING"] else None

    def demo_answers(self) -> bool:
        try:
            return requests.get(self.url("demo", "/healthz"), timeout=1).ok
        except requests.RequestException:
            return False

    def runs(self) -> list[dict[str, Any]]:
        return [r for r in self.get("webhook", "/api/remediations")["remediations"]
                if r["playbook"] == PLAYBOOK]  # fmt: skip

    def outage_firing(self) -> bool:
        alerts = self.get("webhook", "/api/alerts?status=firing")["alerts"]
        return any(a["alertname"] == "ServiceUnavailable" for a in alerts)

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGINT, timeout=60)
        self.log.close()


def one_recovery(stack: Stack, timeout: float) -> dict[str, float]:
    from chaos.stack import guardrails_allow_at

    wait(lambda: stack.demo_answers() and not stack.outage_firing(), 120, "healthy demo")
    allow_at = guardrails_allow_at(stack.root, stack.runs(), PLAYBOOK)
    time.sleep(max(0.0, allow_at - time.time()))
    pid = wait(stack.demo_pid, 30, "running demo")
    killed = time.time()
    os.killpg(pid, signal.SIGKILL)

    def recorded() -> dict[str, Any] | None:
        done = [r for r in stack.runs() if r["planned_at"] >= killed and r["finished_at"]]
        return done[0] if done and stack.demo_answers() else None

    run = wait(recorded, timeout, "recovery")
    recovered = time.time()
    if run["status"] != RECOVERED:
        raise SystemExit(f"run {run['id']} ended {run['status']}: {run['detail']}")
    step = run["steps"][0]
    return {
        "recovery_s": recovered - killed,
        "detection_s": run["planned_at"] - killed,
        "overhead_ms": (step["started_at"] - run["planned_at"]) * 1000,
        "restart_s": step["duration"],
    }


def detection_window(stack: Stack) -> float:
    """The default profile's time from a crash to Alertmanager's POST, at worst:
    the service probe's interval, a scrape and an evaluation, the rule's `for`
    and the critical route's group_wait."""
    run = stack.root / "var" / "run"
    probes = yaml.safe_load((run / "probes.yml").read_text())["defaults"]
    prometheus = yaml.safe_load((run / "prometheus.yml").read_text())["global"]
    rules = yaml.safe_load((ROOT / "rules" / "probes.yml").read_text())
    [rule] = [
        r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "ServiceUnavailable"
    ]
    routes = yaml.safe_load((run / "alertmanager.yml").read_text())["route"]["routes"]
    critical = next(r for r in routes if r.get("matchers") == ['severity="critical"'])
    parts = (probes["service_interval"], prometheus["scrape_interval"],
             prometheus["evaluation_interval"], rule["for"], critical["group_wait"])  # fmt: skip
    return float(sum(SECONDS.validate_python(p) for p in parts))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(samples: list[dict[str, float]], goals: dict[str, float]) -> dict[str, float]:
    recovery = [s["recovery_s"] for s in samples]
    overhead = [s["overhead_ms"] for s in samples]
    figures = {
        "median_s": statistics.median(recovery),
        "max_s": max(recovery),
        "overhead_p50_ms": percentile(overhead, 0.5),
        "overhead_p99_ms": percentile(overhead, 0.99),
    }
    print(f"{'run':>4}{'recovery s':>12}{'detection s':>13}{'overhead ms':>13}{'restart s':>11}")
    for n, s in enumerate(samples, 1):
        print(f"{n:>4}{s['recovery_s']:>12.2f}{s['detection_s']:>13.2f}"
              f"{s['overhead_ms']:>13.1f}{s['restart_s']:>11.2f}")  # fmt: skip
    print()
    for name, value in figures.items():
        goal = goals.get(name)
        verdict = (
            "" if goal is None else f"  goal <= {goal:<8g} {'met' if value <= goal else 'MISSED'}"
        )
        print(f"{name:<18}{value:>10.2f}{verdict}")
    return figures


def single_runs(runs: int, fast: bool) -> tuple[list[dict[str, float]], dict[str, float]]:
    """Scenario 1's shape: `runs` kills of the demo on one stack; the samples and goals."""
    with tempfile.TemporaryDirectory(prefix="recovery-bench-") as tmp:
        stack = Stack(Path(tmp), fast)
        try:
            window = 0.0 if fast else detection_window(stack)
            goals = GOALS if fast else {"max_s": window + DEFAULT_MARGIN_S}
            timeout = 60.0 if fast else window + 2 * DEFAULT_MARGIN_S
            samples = []
            for n in range(1, (runs if fast else 1) + 1):
                samples.append(one_recovery(stack, timeout))
                print(f"single run {n}: recovered in {samples[-1]['recovery_s']:.2f} s", flush=True)
        finally:
            stack.stop()
    if not fast:
        print(f"profile: default (detection window {window:.0f} s)")
    return samples, goals


@contextlib.contextmanager
def fast_stack() -> Iterator[Any]:
    """A fast-profile stack under a temporary root for the length of a scenario,
    as the chaos tests see it (tests/chaos/stack.py's ChaosStack)."""
    from chaos.stack import TOKEN, ChaosStack
    from integration.launcher import launched

    with (
        tempfile.TemporaryDirectory(prefix="recovery-bench-") as tmp,
        launched(Path(tmp), TOKEN, ["--fast"]) as up,
    ):
        yield ChaosStack(Path(tmp), up.ports, up.token)


def partition_runs(runs: int) -> list[dict[str, float]]:
    """Scenario 5, `runs` cuts and mends on one stack."""
    from chaos.stack import wait_for_guardrails
    from chaos.test_network_partition import PLAYBOOK as FAILOVER
    from chaos.test_network_partition import TOKEN as PARTITION_TOKEN
    from chaos.test_network_partition import partition_once, primary_behind_link
    from integration.launcher import launched
    from support.faults import isolated_host

    samples = []
    with (
        tempfile.TemporaryDirectory(prefix="recovery-bench-") as tmp,
        isolated_host() as host,
        launched(Path(tmp), PARTITION_TOKEN, ["--fast"]) as stack,
        primary_behind_link(stack, host) as partition,
    ):
        for n in range(1, runs + 1):
            wait_for_guardrails(stack.root, partition.runs(0.0), FAILOVER)
            measured = partition_once(partition)
            samples.append({"recovery_s": measured.recovery, "orders_s": measured.orders,
                            "switch_back_s": measured.switch_back})  # fmt: skip
            print(f"partition run {n}: orders via the secondary in {measured.orders:.2f} s, "
                  f"recovered (run {measured.run['status']}) in {measured.recovery:.2f} s, "
                  f"switched back in {measured.switch_back:.2f} s", flush=True)  # fmt: skip
    return samples


def multi_runs(runs: int) -> list[dict[str, float]]:
    """Scenario 2, `runs` times on one stack: both business services killed with
    kill -9 at once, timed until both were recovered by their own playbooks and
    answer (tests/chaos/test_multi_service.py's kill and wait, reused)."""
    from chaos.stack import wait_for_guardrails, wait_recovered
    from chaos.test_multi_service import BUSINESS

    samples = []
    with fast_stack() as stack:
        for n in range(1, runs + 1):
            wait(lambda: all(stack.answers(s) for s in BUSINESS), 120, "both services answering")
            for playbook in BUSINESS.values():
                wait_for_guardrails(stack.root, stack.remediations(playbook), playbook)
            killed_at = time.time()
            for service in BUSINESS:
                stack.kill(service)
            back = [wait_recovered(stack, playbook, service, killed_at)[1]
                    for service, playbook in BUSINESS.items()]  # fmt: skip
            samples.append({"recovery_s": max(back) - killed_at})
            print(f"multi run {n}: both recovered in {samples[-1]['recovery_s']:.2f} s", flush=True)
    return samples


def corruption_runs(runs: int) -> list[dict[str, float]]:
    """Scenario 4, `runs` corruptions of the orders file on one stack, each
    restored, and then whether the replica follows the restored file (where it
    does not, the next run's restore falls back to an older state, and its
    data lost says what that costs)."""
    from chaos.test_data_corruption import corrupt_once, replica_check

    samples = []
    with fast_stack() as stack:
        scratch = stack.root / "rebuilt"
        scratch.mkdir()
        for n in range(1, runs + 1):
            corruption = corrupt_once(stack)
            check = replica_check(stack, corruption, scratch)
            samples.append({"recovery_s": corruption.recovery_seconds,
                            "data_lost_s": corruption.lost_seconds,
                            "orders_lost": len(corruption.lost),
                            "orders_before": len(corruption.before),
                            "replica_diverged": float(check.problem is not None)})  # fmt: skip
            print(f"corruption run {n}: page {corruption.page} garbled, recovered in "
                  f"{corruption.recovery_seconds:.2f} s, {len(corruption.lost)} of "
                  f"{len(corruption.before)} orders ({corruption.lost_seconds:.2f} s) lost; "
                  f"replica after the restore: {check.problem or 'follows the file'}",
                  flush=True)  # fmt: skip
    return samples


def starvation_runs(runs: int) -> list[dict[str, float]]:
    """Scenario 6 (the disk), `runs` fills of one small filesystem on one stack,
    each after the alert of the one before has resolved."""
    from chaos.stack import ChaosStack, wait_for_guardrails
    from chaos.test_resource_starvation import (
        THRESHOLD,
        cleanup_playbook,
        cleanup_runs,
        free_ratio,
        starvable_stack,
        starve_once,
    )

    samples = []
    with (
        tempfile.TemporaryDirectory(prefix="recovery-bench-") as tmp,
        starvable_stack(Path(tmp)) as starvable,
    ):
        up, mount = starvable.stack, starvable.mount
        stack, playbook = ChaosStack(up.root, up.ports, up.token), cleanup_playbook(mount)["name"]

        def quiet() -> bool:
            low = [a for a in stack.firing("HostDiskSpaceLow")
                   if a["labels"].get("mountpoint") == str(mount)]  # fmt: skip
            return free_ratio(mount) > THRESHOLD and not low

        for n in range(1, runs + 1):
            wait(quiet, 120, f"HostDiskSpaceLow for {mount} resolved")
            wait_for_guardrails(up.root, cleanup_runs(up, 0.0), playbook)
            filled_at = time.time()
            try:
                starved = starve_once(starvable)
            except TimeoutError as exc:
                seen = [(r["status"], r["detail"]) for r in cleanup_runs(up, filled_at)]
                low = [(a["id"], a["status"]) for a in stack.alerts().values()
                       if a["labels"].get("mountpoint") == str(mount)]  # fmt: skip
                raise TimeoutError(f"run {n}: {exc}; its runs: {seen}; the mount's alerts: {low}, "
                                   f"{free_ratio(mount):.1%} free") from None  # fmt: skip
            samples.append({"recovery_s": starved.recovery_seconds})
            print(f"starvation run {n}: cleaned in {starved.recovery_seconds:.2f} s", flush=True)
    return samples


def hog_runs(runs: int) -> list[dict[str, float]]:
    """Scenario 6 (a memory hog), `runs` times on one stack: the demo told to
    hold 256 MiB → ProcessMemoryHigh → restarted through supervisord → verified
    (tests/chaos/test_resource_hog.py's `hog_once`), each after the last run's
    alert has resolved."""
    from chaos.stack import wait_for_guardrails
    from chaos.test_resource_hog import LIMIT, PLAYBOOK, hog_once, resident

    samples = []
    with fast_stack() as stack:
        for n in range(1, runs + 1):
            wait(lambda: resident(stack) < LIMIT and not stack.firing("ProcessMemoryHigh"), 120,
                 "ProcessMemoryHigh resolved")  # fmt: skip
            wait_for_guardrails(stack.root, stack.remediations(PLAYBOOK), PLAYBOOK)
            hog = hog_once(stack)
            samples.append({"recovery_s": hog.recovered_at - hog.hogged_at})
            print(f"hog run {n}: restarted and verified in {samples[-1]['recovery_s']:.2f} s",
                  flush=True)  # fmt: skip
    return samples


def dependency_runs(runs: int) -> list[dict[str, float]]:
    """Scenario 7, `runs` walks of the failover chain on one stack: primary →
    secondary → tertiary → people told, then mended → back on the primary."""
    from chaos.stack import (
        FAILOVER,
        active_dependency,
        fail_active_and_wait,
        fail_last_and_wait_told,
        mend_dependency,
        past_cooldown,
        served_by,
        wait_for_guardrails,
    )
    from support.procs import wait_until

    def on_primary() -> bool:
        return active_dependency(stack) == "primary" and served_by(stack, "primary")

    def quiet() -> bool:
        return not [a for a in stack.firing("ServiceUnavailable")
                    if a["labels"].get("service") == "dependency"]  # fmt: skip

    samples = []
    with fast_stack() as stack:
        for n in range(1, runs + 1):
            wait_until(lambda: on_primary() and quiet(), 120, "the dependency on the primary")
            wait_for_guardrails(stack.root, stack.remediations(FAILOVER), FAILOVER)
            first, secondary_s = fail_active_and_wait(stack, "primary", "secondary")
            past_cooldown(first)
            second, tertiary_s = fail_active_and_wait(stack, "secondary", "tertiary")
            past_cooldown(second)
            _run, _told, told_s = fail_last_and_wait_told(stack, "tertiary")
            mended_at = time.time()
            mend_dependency(stack)
            wait_until(on_primary, 60, "the switch back to the primary")
            back_s = time.time() - mended_at
            samples.append({"secondary_s": secondary_s, "tertiary_s": tertiary_s,
                            "told_s": told_s, "switch_back_s": back_s})  # fmt: skip
            print(f"dependency run {n}: secondary in {secondary_s:.2f} s, tertiary in "
                  f"{tertiary_s:.2f} s, people told in {told_s:.2f} s, back on the primary in "
                  f"{samples[-1]['switch_back_s']:.2f} s", flush=True)  # fmt: skip
    return samples


def complete_runs(runs: int) -> list[dict[str, float]]:
    """Scenario 3, `runs` drills, each on a root of its own."""
    from chaos.test_complete_failure import drill

    samples = []
    for n in range(1, runs + 1):
        with tempfile.TemporaryDirectory(prefix="recovery-bench-") as tmp:
            outcome = drill(Path(tmp))
        ok = outcome.marks == ["ran"] and outcome.runs == 1 and len(outcome.sent_of_waiting()) == 1
        if not ok:
            raise SystemExit(f"complete failure run {n}: something lost or run twice: {outcome}")
        samples.append({"recovery_s": outcome.recovery, "orders_lost": outcome.orders_lost})
        print(f"complete run {n}: recovered in {outcome.recovery:.2f} s", flush=True)
    return samples


@dataclass(frozen=True)
class Row:
    """One line of the table: the scenario whose runs it reads, which of their
    figures, and what that figure is held to."""

    scenario: str
    figure: str
    goal_s: float | None  # the fast profile's goal for the median; None: none set
    rto_s: float  # the plan's RTO for the priority of what broke
    rpo_s: float | None = None  # the plan's RPO, where data is involved
    lost_goal_s: float | None = None  # the fast profile's goal for the writes lost
    max_goal_s: float | None = None  # the fast profile's goal for the slowest run


# ServiceUnavailable and DataIntegrityCheckFailing are critical, HostDiskSpaceLow
# and ProcessMemoryHigh are high; the orders are critical data.
CRITICAL, HIGH = PLAN_RTO_SECONDS["critical"], PLAN_RTO_SECONDS["high"]
RPO = PLAN_RPO_CRITICAL_SECONDS
ROWS = {
    "single": Row("single", "recovery_s", 10.0, CRITICAL),
    "multi": Row("multi", "recovery_s", 20.0, CRITICAL),
    "corruption": Row("corruption", "recovery_s", 30.0, CRITICAL, RPO, lost_goal_s=1.0),
    "partition": Row("partition", "recovery_s", 20.0, CRITICAL),
    "partition switch-back": Row("partition", "switch_back_s", None, CRITICAL),
    "starvation (disk)": Row("starvation", "recovery_s", 30.0, HIGH),
    "starvation (memory hog)": Row("hog", "recovery_s", 30.0, HIGH),
    "dependency -> secondary": Row("dependency", "secondary_s", None, CRITICAL),
    "dependency -> tertiary": Row("dependency", "tertiary_s", None, CRITICAL),
    "dependency, people told": Row("dependency", "told_s", None, CRITICAL),
    "dependency switch-back": Row("dependency", "switch_back_s", None, CRITICAL),
    "complete": Row("complete", "recovery_s", 60.0, CRITICAL, RPO),
    # One row per SSH setting of bench/_fleet.py, the default (reuse + pipelining) first.
    "fleet (remote host)": Row("fleet", "recovery_s", 15.0, CRITICAL, max_goal_s=25.0),
    "fleet, no reuse": Row("fleet no reuse", "recovery_s", 15.0, CRITICAL, max_goal_s=25.0),
    "fleet, no pipelining": Row(
        "fleet no pipelining", "recovery_s", 15.0, CRITICAL, max_goal_s=25.0
    ),  # fmt: skip
}
SCENARIOS = (
    "single",
    "multi",
    "corruption",
    "partition",
    "starvation",
    "hog",
    "dependency",
    "complete",
    "fleet",
)


def data_lost(row: Row, samples: list[dict[str, float]]) -> tuple[float | None, float | None]:
    """The most writes (seconds) and orders any run of `row` lost; None where
    its scenario involves no data or does not measure that figure."""
    if row.rpo_s is None:
        return None, None
    seconds = [s["data_lost_s"] for s in samples if "data_lost_s" in s]
    orders = [s["orders_lost"] for s in samples if "orders_lost" in s]
    return max(seconds, default=None), max(orders, default=None)


def verdict(row: Row, median: float, worst: float, lost_s: float | None) -> str:
    if row.goal_s is None:
        return ""
    met = (
        median <= row.goal_s
        and (row.max_goal_s is None or worst <= row.max_goal_s)
        and (row.lost_goal_s is None or (lost_s is not None and lost_s <= row.lost_goal_s))
    )
    return " met" if met else " MISSED"


def table(rows: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, Any]]:
    """Median and max per row of every scenario run, beside its goal, RTO and RPO."""
    print(f"\n{'scenario':<25}{'runs':>5}{'median s':>10}{'max s':>9}{'goal s':>16}"
          f"{'plan RTO s':>12}{'data lost':>22}{'plan RPO s':>12}")  # fmt: skip
    figures: dict[str, dict[str, Any]] = {}
    for name, row in ROWS.items():
        if row.scenario not in rows:
            continue
        values = [s[row.figure] for s in rows[row.scenario]]
        median = statistics.median(values)
        lost_s, orders = data_lost(row, rows[row.scenario])
        goal = "-" if row.goal_s is None else f"{row.goal_s:g}"
        if row.lost_goal_s is not None:
            goal += f", lost <= {row.lost_goal_s:g}"
        if row.max_goal_s is not None:
            goal += f", max {row.max_goal_s:g}"
        figures[name] = {"runs": len(values), "median_s": median, "max_s": max(values),
                         "goal_s": row.goal_s, "lost_goal_s": row.lost_goal_s,
                         "max_goal_s": row.max_goal_s,
                         "rto_s": row.rto_s, "data_lost_s": lost_s, "orders_lost": orders,
                         "rpo_s": row.rpo_s}  # fmt: skip
        lost = "; ".join(([] if lost_s is None else [f"{lost_s:.2f} s"])
                         + ([] if orders is None else [f"{orders:g} orders"])) or "-"  # fmt: skip
        print(f"{name:<25}{len(values):>5}{median:>10.2f}{max(values):>9.2f}{goal:>16}"
              f"{row.rto_s:>12g}{lost:>22}{'-' if row.rpo_s is None else f'{row.rpo_s:g}':>12}"
              f"{verdict(row, median, max(values), lost_s)}")  # fmt: skip
    return figures


def fast_runs(
    chosen: list[str], runs: int, complete: int
) -> tuple[dict[str, list[dict[str, float]]], dict[str, str]]:
    """The samples of each chosen scenario but `single`, in the order given,
    and why each scenario that failed did: one failing (a recovery that never
    came) does not throw away the others' figures. Those whose fault this
    machine cannot make are skipped with the kernel's reason."""
    from support.faults import FaultUnavailable

    measure: dict[str, Callable[[], list[dict[str, float]]]] = {
        "multi": lambda: multi_runs(runs),
        "corruption": lambda: corruption_runs(runs),
        "partition": lambda: partition_runs(runs),
        "starvation": lambda: starvation_runs(runs),
        "hog": lambda: hog_runs(runs),
        "dependency": lambda: dependency_runs(runs),
        "complete": lambda: complete_runs(complete),
    }
    rows, failed = {}, {}
    for scenario in (s for s in chosen if s in measure):
        try:
            rows[scenario] = measure[scenario]()
        except FaultUnavailable as exc:
            print(f"{scenario}: skipped, the kernel refused its fault: {exc}", flush=True)
        except (Exception, SystemExit) as exc:
            failed[scenario] = f"{type(exc).__name__}: {exc}"
            print(f"{scenario}: FAILED, {failed[scenario]}", flush=True)
    return rows, failed


def fleet_runs(runs: int) -> dict[str, Any] | None:
    """The fleet scenario for every SSH setting, its side-by-side table printed;
    None (skipped, said why) where this machine has no sshd for the demo hosts."""
    from _fleet import GOALS as FLEET_GOALS
    from _fleet import measure
    from _fleet import report as fleet_report

    from stack.sshd import SshdNotFound, find_sshd

    try:
        find_sshd(dict(os.environ))
    except SshdNotFound as exc:
        print(f"fleet: skipped, {exc}", flush=True)
        return None
    settings = measure(runs)
    figures = fleet_report(settings)
    return {"goals": FLEET_GOALS, "figures": figures, "settings": settings}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma-separated, in order"
    )
    parser.add_argument("--runs", type=int, default=10, help="runs of each scenario but complete")
    parser.add_argument("--complete-runs", type=int, default=3, help="complete-failure drills")
    parser.add_argument(
        "--default-profile",
        action="store_true",
        help="single only: one recovery on the plan's windows instead (about four minutes)",
    )
    args = parser.parse_args()
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if unknown := [s for s in chosen if s not in SCENARIOS]:
        parser.error(f"--scenarios: unknown {', '.join(unknown)} ({', '.join(SCENARIOS)})")
    fast = not args.default_profile
    rows: dict[str, list[dict[str, float]]] = {}
    body: dict[str, Any] = {"profile": "fast" if fast else "default"}
    if "single" in chosen:
        samples, goals = single_runs(args.runs, fast)
        rows["single"] = samples
        print(f"\nsingle (kill -9 the demo), profile {body['profile']}:")
        body["single"] = {"goals": goals, "figures": report(samples, goals), "runs": samples}
    failed: dict[str, str] = {}
    if fast:
        measured, failed = fast_runs(chosen, args.runs, args.complete_runs)
        rows.update(measured)
    if fast and "fleet" in chosen:
        try:
            if (fleet := fleet_runs(args.runs)) is not None:
                body["fleet"] = fleet
                rows.update({("fleet" if n == "reuse+pipelining" else f"fleet {n}"): r["runs"]
                             for n, r in fleet["settings"].items()})  # fmt: skip
        except (Exception, SystemExit) as exc:
            failed["fleet"] = f"{type(exc).__name__}: {exc}"
            print(f"fleet: FAILED, {failed['fleet']}", flush=True)
    body["table"] = table(rows)
    body.update(runs=rows, failed=failed, load_average=os.getloadavg(), cpus=os.cpu_count())
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = results / f"recovery_time-{body['profile']}-{stamp}.json"
    out.write_text(json.dumps(body, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")
    for scenario, why in failed.items():
        print(f"{scenario}: FAILED, {why}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
