"""Per-service process metrics under process-exporter's `namedprocess_namegroup_*` names.

Each configured group names its processes one way: a name pattern (matched against
the whole process name), a pidfile, a systemd unit (its cgroup), or a supervisor
program (asked over supervisord's XML-RPC). For a pidfile or a supervisor program
the process's descendants count too — a gunicorn master and its workers are one
service. Sums over the group's live processes: CPU seconds by mode, resident and
virtual memory, open file descriptors (and the worst ratio to the soft limit),
threads, bytes read and written, context switches, processes per state; the
oldest start time; the count.

A group whose processes are all gone publishes `num_procs 0` (and nothing else),
so a rule can alert on it. The CPU counter is the sum over live processes, so it
drops when one exits — `rate()` treats that as a counter reset.
"""

from __future__ import annotations

import logging
import xmlrpc.client
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from supervisor.xmlrpc import SupervisorTransport

from exporters.host.base import HostContext, ProcessGroupSpec, read_text

log = logging.getLogger(__name__)

PREFIX = "namedprocess_namegroup_"


def supervisor_pid(url: str, program: str) -> int:
    """The pid supervisord reports for `program` (0 when it is not running)."""
    transport = SupervisorTransport(None, None, url)
    with xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport) as proxy:
        info: Any = proxy.supervisor.getProcessInfo(program)
    return int(info["pid"])


def _with_descendants(c: HostContext, pids: Iterable[int]) -> set[int]:
    found: set[int] = set()
    for pid in pids:
        try:
            proc = c.host.ps.Process(pid)
            found.add(pid)
            found.update(child.pid for child in proc.children(recursive=True))
        except psutil.Error:
            continue
    return found


def _unit_pids(c: HostContext, unit: str) -> set[int]:
    cgroup = c.host.sys_root / "fs/cgroup/system.slice" / unit
    pids: set[int] = set()
    if not cgroup.is_dir():
        return pids
    for procs in [cgroup / "cgroup.procs", *cgroup.rglob("*/cgroup.procs")]:
        text = read_text(procs) or ""
        pids.update(int(line) for line in text.split() if line.isdigit())
    return pids


def group_pids(c: HostContext, group: ProcessGroupSpec, names: dict[int, str]) -> set[int]:
    """The pids of one group right now; `names` is this scrape's pid → name table."""
    if group.name_pattern is not None:
        return {pid for pid, name in names.items() if group.name_pattern.fullmatch(name)}
    if group.pidfile is not None:
        text = read_text(group.pidfile) or ""
        return _with_descendants(c, [int(text)]) if text.isdigit() else set()
    if group.systemd_unit is not None:
        return _unit_pids(c, group.systemd_unit)
    assert group.supervisor_program is not None and group.supervisor_url is not None
    pid = supervisor_pid(group.supervisor_url, group.supervisor_program)
    return _with_descendants(c, [pid]) if pid else set()


# psutil's status → process-exporter's `state` label.
STATES = {
    psutil.STATUS_RUNNING: "Running",
    psutil.STATUS_SLEEPING: "Sleeping",
    psutil.STATUS_DISK_SLEEP: "Waiting",
    psutil.STATUS_ZOMBIE: "Zombie",
}
STATE_NAMES = ("Running", "Sleeping", "Waiting", "Zombie", "Other")


@dataclass
class Totals:
    """One group's sums over its live processes this scrape."""

    count: int = 0
    user: float = 0.0
    system: float = 0.0
    resident: float = 0.0
    virtual: float = 0.0
    fds: float = 0.0
    threads: float = 0.0
    oldest: float | None = None
    worst_fd_ratio: float | None = None
    read_bytes: float | None = None  # None: no process would tell us (another user's)
    write_bytes: float | None = None
    voluntary: float = 0.0
    involuntary: float = 0.0
    states: Counter[str] = field(default_factory=Counter)

    def add(self, proc: Any) -> None:
        with proc.oneshot():
            cpu = proc.cpu_times()
            mem = proc.memory_info()
            threads = proc.num_threads()
            started = proc.create_time()
            switches = proc.num_ctx_switches()
            state = STATES.get(proc.status(), "Other")
            fds = _optional(proc, "num_fds") or _optional(proc, "num_handles") or 0
            limit = _optional(proc, "rlimit", psutil.RLIMIT_NOFILE) if HAS_RLIMIT else None
            io = _optional(proc, "io_counters")
        self.count += 1
        self.user += cpu.user
        self.system += cpu.system
        self.resident += mem.rss
        self.virtual += mem.vms
        self.fds += fds
        self.threads += threads
        self.voluntary += switches.voluntary
        self.involuntary += switches.involuntary
        self.states[state] += 1
        self.oldest = started if self.oldest is None else min(self.oldest, started)
        if limit and limit[0] > 0:
            ratio = fds / limit[0]
            self.worst_fd_ratio = max(ratio, self.worst_fd_ratio or 0.0)
        if io is not None:
            self.read_bytes = (self.read_bytes or 0.0) + io.read_bytes
            self.write_bytes = (self.write_bytes or 0.0) + io.write_bytes


HAS_RLIMIT = hasattr(psutil, "RLIMIT_NOFILE")


def _optional(proc: Any, method: str, *args: Any) -> Any:
    """A reading this platform or these permissions may not give: None then."""
    function = getattr(proc, method, None)
    if function is None:
        return None
    try:
        return function(*args)
    except psutil.AccessDenied:
        return None


def measure(c: HostContext, pids: set[int]) -> Totals:
    totals = Totals()
    for pid in pids:
        try:
            totals.add(c.host.ps.Process(pid))
        except psutil.NoSuchProcess:
            continue  # exited between listing and reading
    return totals


def _family(kind: type, suffix: str, doc: str, *extra: str) -> Any:
    return kind(PREFIX + suffix, doc, labels=["groupname", *extra])


def _families() -> dict[str, Any]:
    gauge_, counter = GaugeMetricFamily, CounterMetricFamily
    return {
        "num_procs": _family(gauge_, "num_procs", "number of processes in this group"),
        "cpu": _family(counter, "cpu_seconds", "Cpu user usage in seconds", "mode"),
        "memory": _family(gauge_, "memory_bytes", "number of bytes of memory in use", "memtype"),
        "fds": _family(gauge_, "open_filedesc", "number of open file descriptors for this group"),
        "fd_ratio": _family(
            gauge_,
            "worst_fd_ratio",
            "the worst (closest to 1) ratio between open fds and max fds among all procs"
            " in this group",
        ),
        "threads": _family(gauge_, "num_threads", "Number of threads"),
        "oldest": _family(
            gauge_,
            "oldest_start_time_seconds",
            "start time in seconds since 1970/01/01 of oldest process in group",
        ),
        "read": _family(counter, "read_bytes", "number of bytes read by this group"),
        "write": _family(counter, "write_bytes", "number of bytes written by this group"),
        "switches": _family(counter, "context_switches", "Context switches", "ctxswitchtype"),
        "states": _family(
            gauge_,
            "states",
            "Number of processes in states Running, Sleeping, Waiting, Zombie, or Other",
            "state",
        ),
    }


def _publish(families: dict[str, Any], name: str, t: Totals) -> None:
    families["num_procs"].add_metric([name], t.count)
    if t.count == 0:
        return
    families["cpu"].add_metric([name, "user"], t.user)
    families["cpu"].add_metric([name, "system"], t.system)
    families["memory"].add_metric([name, "resident"], t.resident)
    families["memory"].add_metric([name, "virtual"], t.virtual)
    families["fds"].add_metric([name], t.fds)
    families["threads"].add_metric([name], t.threads)
    families["oldest"].add_metric([name], t.oldest)
    families["switches"].add_metric([name, "voluntary"], t.voluntary)
    families["switches"].add_metric([name, "nonvoluntary"], t.involuntary)
    for state in STATE_NAMES:
        families["states"].add_metric([name, state], t.states[state])
    if t.worst_fd_ratio is not None:
        families["fd_ratio"].add_metric([name], t.worst_fd_ratio)
    if t.read_bytes is not None and t.write_bytes is not None:
        families["read"].add_metric([name], t.read_bytes)
        families["write"].add_metric([name], t.write_bytes)


def collect_processes(c: HostContext) -> Iterator[Metric]:
    if not c.process_groups:
        return
    names: dict[int, str] = {}
    if any(g.name_pattern is not None for g in c.process_groups):
        for proc in c.host.ps.process_iter(["name"]):
            names[proc.pid] = proc.info.get("name") or ""
    families = _families()
    for group in c.process_groups:
        try:
            pids = group_pids(c, group, names)
        except (OSError, xmlrpc.client.Error) as exc:
            # supervisord down or the program unknown: this group has no answer, the
            # others still do.
            log.warning("process group %s: %s", group.name, exc)
            continue
        _publish(families, group.name, measure(c, pids))
    yield from (family for family in families.values() if family.samples)
