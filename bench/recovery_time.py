"""Benchmark recovery through the whole alert path: kill -9 the demo, and time
until it answers again, brought back by the webhook's `restart-demo` playbook
(probe → Prometheus → ServiceUnavailable → Alertmanager → webhook → supervisord).

    .venv/bin/python bench/recovery_time.py [--runs 10] [--default-profile]

Starts `python -m stack up --fast` (or, with --default-profile, the plan's
windows, for one run) on free ports under a temporary root, then for each run:

- waits until the demo answers, ServiceUnavailable is no longer firing and
  restart-demo's guardrails (cooldown, attempt budget, as the rendered playbook
  file sets them) would let a run through, so no run is blocked by the one
  before it;
- kills the demo's process group with SIGKILL and polls every 50 ms until the
  demo answers again *and* the run is recorded with its outcome (GET
  /api/remediations): that is the recovery time;
- reads the stack's own overhead from the recorded times: the run's
  `planned_at` (when the webhook received Alertmanager's POST) to its step's
  `started_at` (when the restart began).

Prints a table against the issue's goals and writes JSON under bench/results/.
Never part of the test suite.
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


def guardrails_allow_at(stack: Stack) -> float:
    """The wall time after which restart-demo's cooldown and attempt budget (of
    the file the webhook runs) let a new run through."""
    settings = yaml.safe_load((stack.root / "var" / "run" / "webhook.yml").read_text()) or {}
    book = next(p for p in load_playbooks(Path(settings["remediation"]["playbooks_file"])).playbooks
                if p.name == PLAYBOOK)  # fmt: skip
    started = sorted(r["started_at"] for r in stack.runs() if r["started_at"] is not None)
    at = started[-1] + book.cooldown if started else 0.0
    if len(started) >= book.max_attempts:
        at = max(at, started[-book.max_attempts] + book.window)
    return at + 0.5


def one_recovery(stack: Stack, timeout: float) -> dict[str, float]:
    wait(lambda: stack.demo_answers() and not stack.outage_firing(), 120, "healthy demo")
    allow_at = guardrails_allow_at(stack)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="recoveries on the fast profile")
    parser.add_argument(
        "--default-profile",
        action="store_true",
        help="one recovery on the plan's windows instead (about four minutes)",
    )
    args = parser.parse_args()
    fast = not args.default_profile
    with tempfile.TemporaryDirectory(prefix="recovery-bench-") as tmp:
        stack = Stack(Path(tmp), fast)
        try:
            window = 0.0 if fast else detection_window(stack)
            goals = GOALS if fast else {"max_s": window + DEFAULT_MARGIN_S}
            timeout = 60.0 if fast else window + 2 * DEFAULT_MARGIN_S
            samples = []
            for n in range(1, (args.runs if fast else 1) + 1):
                samples.append(one_recovery(stack, timeout))
                print(f"run {n}: recovered in {samples[-1]['recovery_s']:.2f} s", flush=True)
        finally:
            stack.stop()
    profile = "fast" if fast else "default"
    print(f"profile: {profile}" + ("" if fast else f" (detection window {window:.0f} s)"))
    figures = report(samples, goals)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = results / f"recovery_time-{profile}-{stamp}.json"
    body = {"profile": profile, "goals": goals, "figures": figures, "runs": samples,
            "load_average": os.getloadavg(), "cpus": os.cpu_count()}  # fmt: skip
    out.write_text(json.dumps(body, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
