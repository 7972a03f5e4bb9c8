"""The `fleet` scenario of bench/recovery_time.py: a demo killed on a remote host,
brought back through Ansible.

For each SSH setting of SETTINGS (the webhook's `fleet.ssh`, passed to
`python -m stack up --fast --hosts 3` as a `--webhook-config` file), on one
root (so the demo hosts are onboarded from scratch once, and found onboarded
after that), on free ports (DEMO_HOST_SSH_PORT included): `runs` times, wait
until host-2's demo answers, its ServiceUnavailable is resolved and the
playbook's guardrails would let a run through; kill -9 the demo's pid
(var/fleet/host-2/demo/demo.pid); poll every 50 ms until the demo answers again
*and* the run of `restart-demo-on-host` is recorded. Each run split, from the
times the webhook recorded (GET /api/remediations):

- detection: kill → the webhook got the alert (the run's `planned_at`);
- overhead: planned → the step started (guardrails, the store, the claim);
- Ansible: the step's start → its end (the executor's whole call: ansible-runner,
  ansible-playbook's start-up, the play); of which the tasks (connection +
  module, each task's own duration in the step's record, which the executor
  writes from Ansible's events) and the rest (start-up, inventory and playbook
  loading, ansible-runner's own work);
- verification: the step's end → the run recorded verified;
- the CPU the webhook's children (ansible-playbook, its workers, ssh) used
  during the run, and the webhook's own.

Then, per setting, the executor alone (in this process, as the webhook's one
remediation loop calls it, one run after the other) runs a two-task read-only
playbook (supervisorctl status, twice: the restart playbook's shape without
restarting anything) on host-1 `EXECUTOR_RUNS` times: its wall time per run
is what bounds the runs per minute one webhook can do, and the CPU its
children used is Ansible's CPU per run. The webhook's resident memory is read
before the first run (ansible-runner not yet imported) and after the last.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import requests
import yaml

from stack.ports import SERVICES
from stack.render import DEFAULT_WEBHOOK_CONFIG
from stack.up import TOKEN_ENV, stop_process

ROOT = Path(__file__).resolve().parent.parent
HOSTS = 3
HOST, HOST_ADDRESS = "host-2", "127.0.0.3"
PLAYBOOK = "restart-demo-on-host"
GOALS = {"median_s": 15.0, "max_s": 25.0}
# The webhook's fleet.ssh for each variant: ControlPersist 1 s keeps the two
# tasks of one run on one connection but none between runs (runs are seconds apart).
SETTINGS: dict[str, dict[str, Any]] = {
    "reuse+pipelining": {"control_persist": "60s", "pipelining": True},
    "no reuse": {"control_persist": "1s", "pipelining": True},
    "no pipelining": {"control_persist": "60s", "pipelining": False},
}
EXECUTOR_RUNS = 10
UP_WAIT = 360.0
POLL_S = 0.05
TOKEN = "fleet-bench-token"
TASK = re.compile(r"task (.+?): (?:ok|changed|failed|unreachable|skipped) ([0-9.]+)s")
STATUS_PLAYBOOK = """\
# bench/_fleet.py: the restart playbook's shape (two supervisorctl calls), read-only.
- name: Status of a supervisord program, twice
  hosts: all
  gather_facts: false
  tasks:
    - name: first
      ansible.builtin.command:
        argv: "{{ recovery_stack_supervisorctl + ['status', program] }}"
      changed_when: false
    - name: second
      ansible.builtin.command:
        argv: "{{ recovery_stack_supervisorctl + ['status', program] }}"
      changed_when: false
"""


def wait(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if found := check():
                return found
        except (requests.RequestException, OSError, ValueError):
            pass
        time.sleep(POLL_S)
    raise TimeoutError(f"no {what} within {timeout:.0f} s")


@dataclass
class FleetStack:
    root: Path
    ports: dict[str, int]
    proc: subprocess.Popen[bytes]

    @property
    def api(self) -> Any:
        from chaos.stack import ChaosStack

        return ChaosStack(self.root, self.ports, TOKEN)

    def demo_answers(self, address: str = HOST_ADDRESS) -> bool:
        try:
            url = f"http://{address}:{self.ports['demo']}/healthz"
            return requests.get(url, timeout=1).ok
        except requests.RequestException:
            return False

    def demo_pid(self, host: str = HOST) -> int:
        return int((self.root / "var" / "fleet" / host / "demo" / "demo.pid").read_text())

    def outage_firing(self) -> bool:
        return any(a["labels"].get("host") == HOST for a in self.api.firing("ServiceUnavailable"))

    def runs(self) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = self.api.remediations(PLAYBOOK)
        return runs

    def webhook(self) -> psutil.Process:
        argv = [sys.executable, "-m", "stack", "ctl", f"--root={self.root}", "status", "webhook"]
        words = subprocess.run(argv, capture_output=True, text=True, check=False).stdout.split()
        return psutil.Process(int(words[3].rstrip(",")))


def free_port(address: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def webhook_config(folder: Path, name: str, ssh: dict[str, Any]) -> Path:
    config = yaml.safe_load(DEFAULT_WEBHOOK_CONFIG.read_text())
    config["fleet"] = {**(config.get("fleet") or {}), "ssh": dict(ssh)}
    # Named webhook.yml: the stack's copy keeps the name (var/run/webhook.yml),
    # which guardrails_allow_at reads.
    path = folder / f"settings-{name.replace('+', '-').replace(' ', '-')}" / "webhook.yml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@contextmanager
def fleet_stack(root: Path, config: Path) -> Iterator[FleetStack]:
    """`python -m stack up --fast --hosts 3` with `config` as the webhook's
    settings, on free ports, until the block ends (then Ctrl-C, as a person)."""
    ports = {s.name: free_port() for s in SERVICES}
    env = {**os.environ, TOKEN_ENV: TOKEN, "DEMO_HOST_SSH_PORT": str(free_port("127.0.0.2"))}
    env.update({s.env_var: str(ports[s.name]) for s in SERVICES})
    argv = [sys.executable, "-m", "stack", "up", f"--root={root}", "--fast",
            f"--hosts={HOSTS}", f"--webhook-config={config}"]  # fmt: skip
    log_path = root / f"launcher-{config.parent.name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        started = time.monotonic()

        def up() -> bool:
            if proc.poll() is not None:
                raise SystemExit(f"stack up exited {proc.returncode}:\n{log_path.read_text()}")
            return "recovery-stack is up" in log_path.read_text()

        wait(up, UP_WAIT, f"stack with {HOSTS} demo hosts (see {log_path})")
        onboarding = re.search(r"onboarding ([0-9.]+) s", log_path.read_text())
        print(f"  up in {time.monotonic() - started:.1f} s (onboarding "
              f"{onboarding.group(1) if onboarding else '?'} s)", flush=True)  # fmt: skip
        yield FleetStack(root, ports, proc)
    finally:
        stop_process(proc, signal.SIGINT, timeout=90)


def _children_cpu(proc: psutil.Process) -> tuple[float, float]:
    """CPU seconds of `proc` itself and of its reaped children (Ansible's)."""
    t = proc.cpu_times()
    return t.user + t.system, t.children_user + t.children_system


def fleet_once(stack: FleetStack, timeout: float = 90.0) -> dict[str, float]:
    from chaos.stack import guardrails_allow_at

    wait(lambda: stack.demo_answers() and not stack.outage_firing(), 120, "healthy demo on host-2")
    allow_at = guardrails_allow_at(stack.root, stack.runs(), PLAYBOOK)
    time.sleep(max(0.0, allow_at - time.time()))
    others = {h: stack.demo_pid(h) for h in ("host-1", "host-3")}
    webhook = stack.webhook()
    own_before, children_before = _children_cpu(webhook)
    pid = stack.demo_pid()
    killed = time.time()
    os.kill(pid, signal.SIGKILL)

    def recorded() -> dict[str, Any] | None:
        done = [r for r in stack.runs() if r["planned_at"] >= killed and r["finished_at"]]
        return done[0] if done and stack.demo_answers() else None

    run = wait(recorded, timeout, "recovery on host-2")
    recovered = time.time()
    if run["status"] != "verified":
        raise SystemExit(f"run {run['id']} ended {run['status']}: {run['detail']}")
    own_after, children_after = _children_cpu(webhook)
    moved = [h for h, p in others.items() if stack.demo_pid(h) != p]
    if moved:
        raise SystemExit(f"run {run['id']} restarted the demo on {moved} too")
    step = run["steps"][0]
    ansible = step["finished_at"] - step["started_at"]
    tasks = sum(float(s) for _name, s in TASK.findall(step["output"] or ""))
    return {
        "recovery_s": recovered - killed,
        "detection_s": run["planned_at"] - killed,
        "overhead_s": step["started_at"] - run["planned_at"],
        "ansible_s": ansible,
        "ansible_tasks_s": tasks,
        "ansible_rest_s": ansible - tasks,
        "verification_s": run["finished_at"] - step["finished_at"],
        "ansible_cpu_s": children_after - children_before,
        "webhook_cpu_s": own_after - own_before,
    }


def executor_runs(stack: FleetStack, ssh: dict[str, Any], runs: int) -> list[dict[str, float]]:
    """The executor alone, one run after the other on host-1: wall and CPU."""
    from alert_webhook.fleet.executor import AnsibleExecutor, HostOutcome, PlaybookJob
    from alert_webhook.fleet.inventory import load_inventory
    from alert_webhook.fleet.settings import SshSettings

    files = stack.root / "var" / "fleet"
    inventory = load_inventory(files / "inventory.yml")
    [host] = [h for h in inventory.hosts if h.name == "host-1"]
    settings = SshSettings.model_validate({**ssh, "known_hosts": files / "known_hosts"})
    samples = []
    with tempfile.TemporaryDirectory(prefix="rs-bench-playbooks-") as books:
        (Path(books) / "status.yml").write_text(STATUS_PLAYBOOK)
        executor = AnsibleExecutor(
            files / "inventory.yml", settings, files / "id_ed25519", Path(books)
        )
        job = PlaybookJob("status.yml", {"program": "demo"})
        for _ in range(runs):
            before = os.times()
            started = time.monotonic()
            done = executor.run(host, job, 60)
            wall = time.monotonic() - started
            after = os.times()
            if done.outcome is not HostOutcome.OK:
                raise SystemExit(f"executor on host-1: {done.outcome} {done.detail}")
            tasks = sum(float(s) for _name, s in TASK.findall(done.summary))
            samples.append({
                "wall_s": wall, "tasks_s": tasks,
                "ansible_cpu_s": (after.children_user + after.children_system)
                - (before.children_user + before.children_system),
                "runner_cpu_s": (after.user + after.system) - (before.user + before.system),
            })  # fmt: skip
    return samples


def measure(runs: int, settings: dict[str, dict[str, Any]] = SETTINGS) -> dict[str, Any]:
    """Every setting's kill runs and executor runs, on one root."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="recovery-bench-fleet-") as tmp:
        root = Path(tmp)
        for name, ssh in settings.items():
            print(f"fleet, {name} ({ssh}): starting the stack", flush=True)
            with fleet_stack(root, webhook_config(root, name, ssh)) as stack:
                rss_before = stack.webhook().memory_info().rss
                samples = []
                for n in range(1, runs + 1):
                    samples.append(fleet_once(stack))
                    s = samples[-1]
                    print(f"fleet {name} run {n}: recovered in {s['recovery_s']:.2f} s "
                          f"(detection {s['detection_s']:.2f}, Ansible {s['ansible_s']:.2f}, "
                          f"verification {s['verification_s']:.2f})", flush=True)  # fmt: skip
                webhook = stack.webhook()
                memory = {"rss_before_mib": rss_before / 2**20,
                          "rss_after_mib": webhook.memory_info().rss / 2**20,
                          "uss_after_mib": webhook.memory_full_info().uss / 2**20}  # fmt: skip
                executor = executor_runs(stack, ssh, EXECUTOR_RUNS)
                load = os.getloadavg()
            results[name] = {"ssh": ssh, "runs": samples, "executor": executor,
                             "webhook_memory": memory, "load_average": load}  # fmt: skip
    return results


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(results: dict[str, Any]) -> dict[str, Any]:
    """The side-by-side table of every setting; its figures."""
    cols = ("recovery_s", "detection_s", "overhead_s", "ansible_s", "ansible_tasks_s",
            "ansible_rest_s", "verification_s", "ansible_cpu_s")  # fmt: skip
    heads = ("recovery", "detect", "overhd", "Ansible", "tasks", "rest", "verify", "CPU")
    print(f"\nfleet (kill -9 the demo on {HOST}, `stack up --fast --hosts {HOSTS}`), "
          "medians (max) in seconds:")  # fmt: skip
    print(f"{'setting':<18}{'runs':>5}" + "".join(f"{h:>15}" for h in heads) + f"{'Ansible %':>11}")
    figures: dict[str, Any] = {}
    for name, result in results.items():
        samples = result["runs"]
        row = {c: (med([s[c] for s in samples]), max(s[c] for s in samples)) for c in cols}
        share = med([s["ansible_s"] / s["recovery_s"] for s in samples])
        print(f"{name:<18}{len(samples):>5}"
              + "".join(f"{m:>8.2f} ({x:>4.1f})" for m, x in row.values())
              + f"{share:>10.0%}")  # fmt: skip
        ex = result["executor"]
        figures[name] = {
            "median_s": row["recovery_s"][0], "max_s": row["recovery_s"][1],
            **{f"{c}_median": m for c, (m, _x) in row.items()},
            "ansible_share_median": share,
            "executor_wall_median_s": med([e["wall_s"] for e in ex]),
            "executor_tasks_median_s": med([e["tasks_s"] for e in ex]),
            "executor_ansible_cpu_median_s": med([e["ansible_cpu_s"] for e in ex]),
            "executor_runner_cpu_median_s": med([e["runner_cpu_s"] for e in ex]),
            "runs_per_minute": 60 / med([e["wall_s"] for e in ex]),
            **result["webhook_memory"], "load_average": result["load_average"],
        }  # fmt: skip
    print(f"\n{'executor alone':<18}{'runs':>5}{'wall s':>9}{'tasks s':>9}{'Ansible CPU s':>15}"
          f"{'runner CPU s':>14}{'runs/min':>10}{'webhook RSS MiB before/after':>30}")  # fmt: skip
    for name, f in figures.items():
        mem = f"{f['rss_before_mib']:.0f} / {f['rss_after_mib']:.0f}"
        print(f"{name:<18}{len(results[name]['executor']):>5}{f['executor_wall_median_s']:>9.2f}"
              f"{f['executor_tasks_median_s']:>9.2f}{f['executor_ansible_cpu_median_s']:>15.2f}"
              f"{f['executor_runner_cpu_median_s']:>14.2f}{f['runs_per_minute']:>10.1f}"
              f"{mem:>30}")  # fmt: skip
    print()
    for name, f in figures.items():
        for goal, limit in GOALS.items():
            verdict = "met" if f[goal] <= limit else "MISSED"
            print(f"{name:<18}{goal:<10}{f[goal]:>8.2f}  goal <= {limit:g}  {verdict}")
    return figures
