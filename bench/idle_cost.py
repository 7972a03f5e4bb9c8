"""What `make up` costs while nothing happens: every process's CPU and the memory.

    .venv/bin/python bench/idle_cost.py [--settle 60] [--duration 300] [--fast] [--hosts 3]

Starts the stack as `make up` does (`python -m stack up`, in the foreground) under a
temporary root on free loopback ports, lets it settle, then for `--duration` seconds
reads each process's CPU time (user + system, from psutil) and, every
`--memory-every` seconds, its memory: RSS, and PSS/USS where the kernel gives them
(RSS counts pages shared between processes once per process, PSS splits them).
Each process is named by its role: its supervisord program (webhook, prometheus,
alertmanager, litestream, backups, the exporters, the demo's five), `supervisord`,
or `make up` for the launcher itself; a program's own children carry its name
after a colon. `--hosts N` starts the demo fleet too (`make up HOSTS=N`); its
processes are reported as a group of their own. Stopped with SIGINT, as Ctrl-C.

Prints one row per process and the totals of the stack without the demo, the
demo, the fleet and everything, beside the goal for the stack without the demo
(issue 27: <= 1 % of one core and <= 350 MiB RSS), and writes JSON under
bench/results/. CPU of a process that exits during the window (a backup's restic,
say) is counted through its parent's reaped-children time. Never part of the
test suite.
"""

from __future__ import annotations

import argparse
import configparser
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from _timing import write_result

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack.ports import SERVICES  # noqa: E402
from stack.supervisor import DEMO_PROGRAMS  # noqa: E402

GOAL_CPU_PERCENT = 1.0
GOAL_RSS_MIB = 350.0
MIB = 1024 * 1024
TOKEN = "idle-cost-bench-token"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class Seen:
    """One process over the window: CPU at its start (or 0 if born in it) and last seen."""

    pid: int
    role: str
    group: str  # stack | demo | fleet
    cmd: str
    cpu_start: float
    children_start: float
    cpu_last: float = 0.0
    children_last: float = 0.0
    alive: bool = True
    rss: list[int] = field(default_factory=list)
    pss: list[int] = field(default_factory=list)
    uss: list[int] = field(default_factory=list)


def _cpu(proc: psutil.Process) -> tuple[float, float]:
    t = proc.cpu_times()
    return t.user + t.system, t.children_user + t.children_system


def _programs(root: Path) -> dict[tuple[str, ...], str]:
    """The stack's supervisord programs by their command line."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(root / "var" / "run" / "supervisord.conf")
    return {
        tuple(shlex.split(parser[s]["command"].replace("%%", "%"))): s.split(":", 1)[1]
        for s in parser.sections()
        if s.startswith("program:")
    }


def _program(cmdline: list[str]) -> str:
    """A short name for a process outside the stack's supervisord: a Python
    program's module (and its subcommand), else its executable."""
    if "-m" in cmdline[:-1]:
        module = cmdline[cmdline.index("-m") + 1].removeprefix("supervisor.")
        rest = cmdline[cmdline.index("-m") + 2 :]
        return f"{module} {rest[0]}" if rest and not rest[0].startswith("-") else module
    return Path(cmdline[0].split()[0].rstrip(":")).name


def classify(launcher: psutil.Process, root: Path) -> dict[int, tuple[str, str, str]]:
    """pid -> (role, group, short command) for every process of this run."""
    programs = _programs(root)
    found: dict[int, tuple[str, str, str]] = {}

    def walk(proc: psutil.Process, role: str, group: str, depth: int) -> None:
        try:
            cmdline = proc.cmdline()
            kids = proc.children()
        except psutil.Error:
            return
        cmd = " ".join(Path(cmdline[0]).name if i == 0 else a for i, a in enumerate(cmdline))[:70]
        if depth == 0:
            this_role, this_group = "make up", "stack"
        elif "supervisor.supervisord" in cmdline and str(root / "var" / "run") in " ".join(cmdline):
            this_role, this_group = "supervisord", "stack"
        elif "supervisor.supervisord" in cmdline or "sshd" in Path(cmdline[0]).name:
            this_role, this_group = f"fleet {_program(cmdline)}", "fleet"
        elif tuple(cmdline) in programs and role == "supervisord":
            this_role = programs[tuple(cmdline)]
            this_group = "demo" if this_role in DEMO_PROGRAMS else "stack"
        elif group == "fleet":
            this_role, this_group = f"fleet {_program(cmdline)}", "fleet"
        else:
            this_role, this_group = f"{role.split(':')[0]}:{Path(cmdline[0]).name}", group
        found[proc.pid] = (this_role, this_group, cmd)
        for kid in kids:
            walk(kid, this_role, this_group, depth + 1)

    walk(launcher, "make up", "stack", 0)
    return found


def start_stack(root: Path, fast: bool, hosts: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ALERT_WEBHOOK_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    env.update({s.env_var: str(free_port()) for s in SERVICES})
    if hosts:
        env["DEMO_HOST_SSH_PORT"] = str(free_port("127.0.0.2"))
    argv = [sys.executable, "-m", "stack", "up", f"--root={root}"]
    argv += ["--fast"] if fast else []
    argv += ["--hosts", str(hosts)] if hosts else []
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def wait_up(proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b"recovery-stack is up" in log.read_bytes():
            return
        if proc.poll() is not None:
            break
        time.sleep(1)
    sys.exit(f"the stack did not come up; its output:\n{log.read_text(errors='replace')[-3000:]}")


def stop_stack(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(
    launcher: psutil.Process, root: Path, duration: float, every: float, memory_every: float
) -> tuple[dict[int, Seen], float, int]:
    """Each process's CPU over `duration` and its memory samples; the wall seconds."""
    seen: dict[int, Seen] = {}

    def scan(baseline: bool) -> None:
        roles = classify(launcher, root)
        for pid in list(seen):
            if pid not in roles:
                seen[pid].alive = False
        for pid, (role, group, cmd) in roles.items():
            try:
                own, reaped = _cpu(psutil.Process(pid))
            except psutil.Error:
                continue
            if pid not in seen or not seen[pid].alive:
                start = (own, reaped) if baseline else (0.0, 0.0)
                seen[pid] = Seen(pid, role, group, cmd, *start)
            seen[pid].cpu_last, seen[pid].children_last = own, reaped

    def sample_memory() -> None:
        for entry in seen.values():
            if not entry.alive:
                continue
            try:
                proc = psutil.Process(entry.pid)
                try:
                    full = proc.memory_full_info()
                    entry.pss.append(getattr(full, "pss", 0))
                    entry.uss.append(getattr(full, "uss", 0))
                    entry.rss.append(full.rss)
                except psutil.AccessDenied:
                    entry.rss.append(proc.memory_info().rss)
            except psutil.Error:
                entry.alive = False

    started = time.monotonic()
    scan(baseline=True)
    sample_memory()
    samples, next_memory = 1, started + memory_every
    while (now := time.monotonic()) < started + duration:
        time.sleep(min(every, started + duration - now))
        scan(baseline=False)
        if time.monotonic() >= next_memory:
            sample_memory()
            samples += 1
            next_memory += memory_every
    wall = time.monotonic() - started
    scan(baseline=False)
    sample_memory()
    return seen, wall, samples + 1


def mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


def rows_of(seen: dict[int, Seen], wall: float) -> list[dict[str, object]]:
    rows = []
    for entry in seen.values():
        # A process gone before the end is counted in its parent's reaped time.
        own = entry.cpu_last - entry.cpu_start if entry.alive else 0.0
        reaped = entry.children_last - entry.children_start if entry.alive else 0.0
        rows.append(
            {
                "pid": entry.pid,
                "role": entry.role,
                "group": entry.group,
                "cmd": entry.cmd,
                "alive_at_end": entry.alive,
                "cpu_seconds": own + reaped,
                "reaped_children_cpu_seconds": reaped,
                "cpu_percent_of_one_core": 100 * (own + reaped) / wall,
                "rss_mib": mean(entry.rss) / MIB,
                "pss_mib": mean(entry.pss) / MIB,
                "uss_mib": mean(entry.uss) / MIB,
            }
        )
    order = {"stack": 0, "demo": 1, "fleet": 2}
    return sorted(rows, key=lambda r: (order[str(r["group"])], -float(r["cpu_seconds"])))  # type: ignore[arg-type]


def totals(rows: Iterable[dict[str, object]], groups: set[str]) -> dict[str, float]:
    chosen = [r for r in rows if r["group"] in groups and r["alive_at_end"]]
    return {
        "processes": len(chosen),
        "cpu_percent_of_one_core": sum(
            float(r["cpu_percent_of_one_core"]) for r in rows if r["group"] in groups
        ),  # type: ignore[arg-type]
        "rss_mib": sum(float(r["rss_mib"]) for r in chosen),  # type: ignore[arg-type]
        "pss_mib": sum(float(r["pss_mib"]) for r in chosen),  # type: ignore[arg-type]
        "uss_mib": sum(float(r["uss_mib"]) for r in chosen),  # type: ignore[arg-type]
    }


def by_role(rows: Iterable[dict[str, object]]) -> dict[str, dict[str, float]]:
    roles: dict[str, dict[str, float]] = {}
    for r in rows:
        role = roles.setdefault(
            str(r["role"]),
            {"processes": 0, "cpu_percent_of_one_core": 0.0, "rss_mib": 0.0, "pss_mib": 0.0},
        )
        role["processes"] += 1 if r["alive_at_end"] else 0
        for key in ("cpu_percent_of_one_core", "rss_mib", "pss_mib"):
            role[key] += float(r[key])  # type: ignore[arg-type]
    return roles


def print_table(rows: list[dict[str, object]], sums: dict[str, dict[str, float]]) -> None:
    print(
        f"{'role':<26} {'group':<6} {'pid':>7} {'CPU % core':>10} {'RSS MiB':>8} "
        f"{'PSS MiB':>8} {'USS MiB':>8}  command"
    )
    for r in rows:
        gone = "" if r["alive_at_end"] else " (exited)"
        print(
            f"{r['role']:<26} {r['group']:<6} {r['pid']:>7} "
            f"{r['cpu_percent_of_one_core']:>10.3f} {r['rss_mib']:>8.1f} {r['pss_mib']:>8.1f} "
            f"{r['uss_mib']:>8.1f}  {r['cmd']}{gone}"
        )
    print()
    print(
        f"{'total':<34} {'procs':>5} {'CPU % core':>10} {'RSS MiB':>8} {'PSS MiB':>8} "
        f"{'USS MiB':>8}   goal"
    )
    for name, t in sums.items():
        goal = ""
        if name == "stack without the demo":
            cpu_ok = "met" if t["cpu_percent_of_one_core"] <= GOAL_CPU_PERCENT else "MISSED"
            rss_ok = "met" if t["rss_mib"] <= GOAL_RSS_MIB else "MISSED"
            goal = (
                f"CPU <= {GOAL_CPU_PERCENT:g} % ({cpu_ok}), RSS <= {GOAL_RSS_MIB:g} MiB ({rss_ok})"
            )
        print(
            f"{name:<34} {t['processes']:>5} {t['cpu_percent_of_one_core']:>10.3f} "
            f"{t['rss_mib']:>8.1f} {t['pss_mib']:>8.1f} {t['uss_mib']:>8.1f}   {goal}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settle", type=float, default=60.0, help="seconds after it is up")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds measured")
    parser.add_argument("--fast", action="store_true", help="the fast profile (make up FAST=1)")
    parser.add_argument("--hosts", type=int, default=0, help="demo hosts (make up HOSTS=N)")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between process scans")
    parser.add_argument(
        "--memory-every", type=float, default=30.0, help="seconds between memory samples"
    )
    parser.add_argument("--label", default="", help="a word saved in the JSON (before, after)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary root")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="idle-cost-", dir="/tmp"))
    log = root / "make-up.log"
    load_before = os.getloadavg()
    print(f"starting the stack under {root} (load {load_before[0]:.2f}) ...", flush=True)
    proc = start_stack(root, args.fast, args.hosts, log)
    try:
        wait_up(proc, log, 900 if args.hosts else 180)
        print(f"up; settling {args.settle:g} s, then measuring {args.duration:g} s", flush=True)
        time.sleep(args.settle)
        seen, wall, samples = measure(
            psutil.Process(proc.pid), root, args.duration, args.every, args.memory_every
        )
    finally:
        stop_stack(proc)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    load_after = os.getloadavg()
    rows = rows_of(seen, wall)
    sums = {"stack without the demo": totals(rows, {"stack"}), "the demo": totals(rows, {"demo"})}
    if args.hosts:
        sums[f"the demo fleet ({args.hosts} hosts)"] = totals(rows, {"fleet"})
    sums["everything"] = totals(rows, {"stack", "demo", "fleet"})
    print(
        f"\nidle cost of `make up{' FAST=1' if args.fast else ''}"
        f"{f' HOSTS={args.hosts}' if args.hosts else ''}`: {wall:.0f} s after a "
        f"{args.settle:g} s settle, {samples} memory samples; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after, {os.cpu_count()} cores\n"
    )
    print_table(rows, sums)
    stack = sums["stack without the demo"]
    result = {
        "label": args.label,
        "profile": "fast" if args.fast else "default",
        "hosts": args.hosts,
        "settle_seconds": args.settle,
        "duration_seconds": wall,
        "load_average": {"before": load_before, "after": load_after},
        "cores": os.cpu_count(),
        "goal": {"cpu_percent_of_one_core": GOAL_CPU_PERCENT, "rss_mib": GOAL_RSS_MIB},
        "met": {
            "cpu": stack["cpu_percent_of_one_core"] <= GOAL_CPU_PERCENT,
            "rss": stack["rss_mib"] <= GOAL_RSS_MIB,
        },
        "totals": sums,
        "by_role": by_role(rows),
        "processes": rows,
    }
    path = write_result("idle_cost", result)
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
