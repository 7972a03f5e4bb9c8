"""Benchmark recovery through the whole alert path, scenario by scenario, against
the plan's RTO (and RPO where data is involved), on the fast profile.

    .venv/bin/python bench/recovery_time.py [--scenarios single,multi,partition,complete]
        [--runs 10] [--complete-runs 3] [--default-profile]

- `single` (scenario 1's shape): kill -9 the demo, and time until it answers
  again, brought back by the webhook's `restart-demo` playbook (probe →
  Prometheus → ServiceUnavailable → Alertmanager → webhook → supervisord).
  Starts `python -m stack up --fast` (or, with --default-profile, the plan's
  windows, for one run) on free ports under a temporary root, then for each run:
  waits until the demo answers, ServiceUnavailable is no longer firing and
  restart-demo's guardrails (cooldown, attempt budget, as the rendered playbook
  file sets them) would let a run through, so no run is blocked by the one
  before it; kills the demo's process group with SIGKILL and polls every 50 ms
  until the demo answers again *and* the run is recorded with its outcome (GET
  /api/remediations): that is the recovery time. The stack's own overhead is
  read from the recorded times: the run's `planned_at` (when the webhook
  received Alertmanager's POST) to its step's `started_at`.
- `multi` (scenario 2): both business services (the demo and its worker)
  killed with kill -9 at once, `--runs` times on one stack, as
  tests/chaos/test_multi_service.py does it (its kill and its wait, reused):
  timed until both were recovered by their own playbooks and answer. Each run
  waits for both playbooks' guardrails first.
- `partition` (scenario 5): the dependency's primary behind a link that is cut
  and mended, `--runs` times on one stack, as tests/chaos/test_network_partition.py
  does it (its helpers, reused): cut → orders placed through the secondary and
  the failover's run verified, and mend → orders through the primary again
  (the switch-back). Needs network
  namespaces (root); skipped with the kernel's reason otherwise.
- `complete` (scenario 3): tests/chaos/test_complete_failure.py's drill,
  `--complete-runs` times, each on a new root: everything killed with SIGKILL,
  launched again; the second launch's "up" → the waiting delivery delivered, the
  interrupted run recorded, the demo back; orders lost against the RPO.

Data corruption (scenario 4), resource starvation (6) and the dependency chain
(7) are not measured here yet; their chaos tests measure one run each. Prints
one table of every scenario run and writes JSON under bench/results/. Never
part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml
from pydantic import TypeAdapter

from alert_webhook.remediation.playbooks import load_playbooks
from alert_webhook.store.rows import RunStatus
from exporters.config import Duration
from stack.ports import SERVICES
from stack.up import stop_process

ROOT = Path(__file__).resolve().parent.parent
# The chaos tests' helpers (tests/chaos/, tests/support/, tests/integration/).
sys.path.insert(0, str(ROOT / "tests"))

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


def guardrails_allow_at(root: Path, runs: list[dict[str, Any]], playbook: str) -> float:
    """The wall time after which `playbook`'s cooldown and attempt budget (of the
    file the webhook under `root` runs), given its `runs`, let a new run through."""
    settings = yaml.safe_load((root / "var" / "run" / "webhook.yml").read_text()) or {}
    book = next(p for p in load_playbooks(Path(settings["remediation"]["playbooks_file"])).playbooks
                if p.name == playbook)  # fmt: skip
    started = sorted(r["started_at"] for r in runs if r["started_at"] is not None)
    at = started[-1] + book.cooldown if started else 0.0
    if len(started) >= book.max_attempts:
        at = max(at, started[-book.max_attempts] + book.window)
    return at + 0.5


def one_recovery(stack: Stack, timeout: float) -> dict[str, float]:
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


def partition_runs(runs: int) -> list[dict[str, float]]:
    """Scenario 5, `runs` cuts and mends on one stack."""
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
            allow_at = guardrails_allow_at(stack.root, partition.runs(0.0), FAILOVER)
            time.sleep(max(0.0, allow_at - time.time()))
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
    from chaos.stack import TOKEN, ChaosStack, wait_recovered
    from chaos.test_multi_service import BUSINESS
    from integration.launcher import launched

    samples = []
    with (
        tempfile.TemporaryDirectory(prefix="recovery-bench-") as tmp,
        launched(Path(tmp), TOKEN, ["--fast"]) as up,
    ):
        stack = ChaosStack(Path(tmp), up.ports, up.token)
        for n in range(1, runs + 1):
            wait(lambda: all(stack.answers(s) for s in BUSINESS), 120, "both services answering")
            allow_at = max(guardrails_allow_at(stack.root, stack.remediations(p), p)
                           for p in BUSINESS.values())  # fmt: skip
            time.sleep(max(0.0, allow_at - time.time()))
            killed_at = time.time()
            for service in BUSINESS:
                stack.kill(service)
            back = [wait_recovered(stack, playbook, service, killed_at)[1]
                    for service, playbook in BUSINESS.items()]  # fmt: skip
            samples.append({"recovery_s": max(back) - killed_at})
            print(f"multi run {n}: both recovered in {samples[-1]['recovery_s']:.2f} s", flush=True)
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
        samples.append({"recovery_s": outcome.recovery, "data_lost": outcome.orders_lost})
        print(f"complete run {n}: recovered in {outcome.recovery:.2f} s", flush=True)
    return samples


# scenario → (its goal on the fast profile, the plan's RTO for its service's
# priority, the plan's RPO where data is involved). Every service broken here
# is critical (ServiceUnavailable), and the orders are critical data.
PLAN = {
    "single": (10.0, 300.0, None),
    "multi": (20.0, 300.0, None),
    "partition": (20.0, 300.0, None),
    "partition switch-back": (None, 300.0, None),
    "complete": (60.0, 300.0, 60.0),
}


SCENARIOS = ("single", "multi", "partition", "complete")


def table(rows: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, Any]]:
    """Median and max recovery per scenario, beside its goal, RTO and RPO."""
    print(f"\n{'scenario':<22}{'runs':>5}{'median s':>10}{'max s':>9}{'goal s':>8}"
          f"{'plan RTO s':>12}{'data lost':>11}{'plan RPO s':>12}")  # fmt: skip
    figures: dict[str, dict[str, Any]] = {}
    for name, samples in rows.items():
        key = "switch_back_s" if name.endswith("switch-back") else "recovery_s"
        values = [s[key] for s in samples]
        goal, rto, rpo = PLAN[name]
        lost = max((s["data_lost"] for s in samples), default=None) if rpo else None
        figures[name] = {"runs": len(values), "median_s": statistics.median(values),
                         "max_s": max(values), "goal_s": goal, "rto_s": rto,
                         "data_lost": lost, "rpo_s": rpo}  # fmt: skip
        met = "" if goal is None else (" met" if figures[name]["median_s"] <= goal else " MISSED")
        print(f"{name:<22}{len(values):>5}{statistics.median(values):>10.2f}{max(values):>9.2f}"
              f"{'-' if goal is None else f'{goal:g}':>8}{rto:>12g}"
              f"{'-' if lost is None else f'{lost:g} orders':>11}"
              f"{'-' if rpo is None else f'{rpo:g}':>12}{met}")  # fmt: skip
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma-separated, in order"
    )
    parser.add_argument("--runs", type=int, default=10, help="runs of single, multi, partition")
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
    if fast and "multi" in chosen:
        rows["multi"] = multi_runs(args.runs)
    if fast and "partition" in chosen:
        from support.faults import FaultUnavailable

        try:
            rows["partition"] = rows["partition switch-back"] = partition_runs(args.runs)
        except FaultUnavailable as exc:
            print(f"partition: skipped, network namespaces are not allowed here: {exc}")
    if fast and "complete" in chosen:
        rows["complete"] = complete_runs(args.complete_runs)
    body["table"] = table(rows)
    body.update(runs=rows, load_average=os.getloadavg(), cpus=os.cpu_count())
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = results / f"recovery_time-{body['profile']}-{stamp}.json"
    out.write_text(json.dumps(body, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
