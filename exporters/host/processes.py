"""Per-service process metrics under process-exporter's `namedprocess_namegroup_*` names.

Each configured group names its processes one way: a name pattern (matched against
the whole process name), a pidfile, a systemd unit (its cgroup), or a supervisor
program (asked over supervisord's XML-RPC). For a pidfile or a supervisor program
the process's descendants count too — a gunicorn master and its workers are one
service. Sums over the group's live processes: CPU seconds by mode, resident and
virtual memory, open file descriptors, threads; the oldest start time; the count.

A group whose processes are all gone publishes `num_procs 0` (and nothing else),
so a rule can alert on it. The CPU counter is the sum over live processes, so it
drops when one exits — `rate()` treats that as a counter reset.
"""

from __future__ import annotations

import logging
import xmlrpc.client
from collections.abc import Iterable, Iterator
from typing import Any

import psutil
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from exporters.host.base import HostContext, ProcessGroupSpec, read_text

log = logging.getLogger(__name__)

PREFIX = "namedprocess_namegroup_"


def supervisor_pid(url: str, program: str) -> int:
    """The pid supervisord reports for `program` (0 when it is not running)."""
    # supervisor is one of the project's dependencies; its transport speaks unix://.
    from supervisor.xmlrpc import SupervisorTransport

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


def _families() -> dict[str, Any]:
    labels = ["groupname"]
    return {
        "num_procs": GaugeMetricFamily(
            PREFIX + "num_procs", "number of processes in this group", labels=labels
        ),
        "cpu": CounterMetricFamily(
            PREFIX + "cpu_seconds", "Cpu user usage in seconds", labels=["groupname", "mode"]
        ),
        "memory": GaugeMetricFamily(
            PREFIX + "memory_bytes",
            "number of bytes of memory in use",
            labels=["groupname", "memtype"],
        ),
        "fds": GaugeMetricFamily(
            PREFIX + "open_filedesc",
            "number of open file descriptors for this group",
            labels=labels,
        ),
        "threads": GaugeMetricFamily(PREFIX + "num_threads", "Number of threads", labels=labels),
        "oldest": GaugeMetricFamily(
            PREFIX + "oldest_start_time_seconds",
            "start time in seconds since 1970/01/01 of oldest process in group",
            labels=labels,
        ),
    }


def _measure(c: HostContext, pids: set[int]) -> dict[str, float] | None:
    totals = {"user": 0.0, "system": 0.0, "resident": 0.0, "virtual": 0.0}
    totals.update(fds=0.0, threads=0.0, count=0.0)
    oldest: float | None = None
    for pid in pids:
        try:
            proc = c.host.ps.Process(pid)
            with proc.oneshot():
                cpu = proc.cpu_times()
                mem = proc.memory_info()
                threads = proc.num_threads()
                started = proc.create_time()
                try:
                    fds = proc.num_fds() if hasattr(proc, "num_fds") else proc.num_handles()
                except psutil.AccessDenied:
                    fds = 0  # another user's process: its fd table is not ours to read
        except psutil.Error:
            continue  # exited between listing and reading
        totals["user"] += cpu.user
        totals["system"] += cpu.system
        totals["resident"] += mem.rss
        totals["virtual"] += mem.vms
        totals["fds"] += fds
        totals["threads"] += threads
        totals["count"] += 1
        oldest = started if oldest is None else min(oldest, started)
    if oldest is None:
        return None
    totals["oldest"] = oldest
    return totals


def collect_processes(c: HostContext) -> Iterator[Metric]:
    if not c.process_groups:
        return
    names: dict[int, str] = {}
    if any(g.name_pattern is not None for g in c.process_groups):
        for proc in c.host.ps.process_iter(["name"]):
            names[proc.pid] = proc.info.get("name") or ""
    families = _families()
    for group in c.process_groups:
        name = group.name
        try:
            pids = group_pids(c, group, names)
        except (OSError, xmlrpc.client.Error) as exc:
            # supervisord down or the program unknown: this group has no answer, the
            # others still do.
            log.warning("process group %s: %s", name, exc)
            continue
        totals = _measure(c, pids)
        if totals is None:
            families["num_procs"].add_metric([name], 0)
            continue
        families["num_procs"].add_metric([name], totals["count"])
        families["cpu"].add_metric([name, "user"], totals["user"])
        families["cpu"].add_metric([name, "system"], totals["system"])
        families["memory"].add_metric([name, "resident"], totals["resident"])
        families["memory"].add_metric([name, "virtual"], totals["virtual"])
        families["fds"].add_metric([name], totals["fds"])
        families["threads"].add_metric([name], totals["threads"])
        families["oldest"].add_metric([name], totals["oldest"])
    yield from (family for family in families.values() if family.samples)
