"""The system exporter: host health under node_exporter's names, labels and units.

Each scrape builds fresh metric families (no background sampling). Names, labels
and semantics are node_exporter's, so `rules/`, the community's host rules and the
Node Exporter Full dashboard work unchanged whichever of the two exporters feeds
them. Each collector runs in its own thread under a deadline; one that raises,
finds no source on this machine, or hangs is reported through
`node_scrape_collector_success{collector} 0` and the rest of the scrape is served.
What a platform lacks is left out, never published as zero.

    python -m exporters.system --listen 127.0.0.1:9101 [--config system.yml]
        [--collector.textfile.directory DIR]
        [--path.procfs /host/proc --path.sysfs /host/sys --path.rootfs /host/root]

The --path flags are node_exporter's: in a container that watches its host, they
name where the host's /proc, /sys and / are mounted.
"""

from __future__ import annotations

import argparse
import logging
import platform
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporters.host import core, filesystem, kernel, netclass, processes, procfs, textfile
from exporters.host.base import Collect, Host, HostContext
from exporters.host.runner import CollectorRuns, Spawn, Wait, wait_event
from exporters.serve import parse_listen, serve_forever
from exporters.system_config import SystemConfig
from exporters.thread_reuse import ThreadReuse
from toolkit.config import ConfigError, exit_on_config_error, load_yaml, parse_model

log = logging.getLogger(__name__)

# node_exporter's collector names (ours: `processes`), in scrape order; textfile is
# last so that a file cannot shadow a family a collector already published.
COLLECTORS: dict[str, Collect] = {
    "cpu": core.collect_cpu,
    "meminfo": core.collect_meminfo,
    "filesystem": filesystem.collect_filesystem,
    "diskstats": core.collect_diskstats,
    "netdev": core.collect_netdev,
    "netclass": netclass.collect_netclass,
    "loadavg": core.collect_loadavg,
    "stat": core.collect_stat,
    "vmstat": kernel.collect_vmstat,
    "filefd": kernel.collect_filefd,
    "conntrack": kernel.collect_conntrack,
    "pressure": kernel.collect_pressure,
    "uname": kernel.collect_uname,
    "time": kernel.collect_time,
    "timex": kernel.collect_timex,
    "netstat": procfs.collect_netstat,
    "sockstat": procfs.collect_sockstat,
    "entropy": procfs.collect_entropy,
    "os": procfs.collect_os,
    "processes": processes.collect_processes,
    "textfile": textfile.collect_textfile,
}


def build_info() -> GaugeMetricFamily:
    """Our counterpart of node_exporter_build_info: which code produced these series."""
    try:
        version = metadata.version("recovery-stack")
    except metadata.PackageNotFoundError:
        version = "unknown"
    family = GaugeMetricFamily(
        "system_exporter_build_info",
        "A metric with a constant '1' value labeled by version, pythonversion and psutilversion.",
        labels=["version", "pythonversion", "psutilversion"],
    )
    family.add_metric([version, platform.python_version(), psutil.__version__], 1)
    return family


def context(config: SystemConfig, host: Host) -> HostContext:
    return HostContext(
        host=host,
        mount_exclude=re.compile(config.mount_points_exclude),
        fstype_exclude=re.compile(config.fs_types_exclude),
        disk_exclude=re.compile(config.disk_devices_exclude),
        net_exclude=re.compile(config.network_devices_exclude),
        netclass_exclude=re.compile(config.netclass_devices_exclude),
        textfile_directory=config.textfile_directory,
        process_groups=tuple(group.spec() for group in config.process_groups),
    )


class SystemCollector(Collector):
    """Host metrics, built fresh on every `collect()` from the `host`'s boundaries."""

    def __init__(
        self,
        config: SystemConfig | None = None,
        host: Host | None = None,
        clock: Callable[[], float] = time.perf_counter,
        collectors: Mapping[str, Collect] | None = None,
        spawn: Spawn | None = None,
        wait: Wait = wait_event,
    ) -> None:
        config = config or SystemConfig()
        # One collectors' thread kept between scrapes, not one started per scrape; a
        # worker left stuck in a hung collector is simply not idle, and the next
        # scrape gets a new one (exporters/thread_reuse.py).
        spawn = spawn or ThreadReuse("collectors")
        self.ctx = context(config, host or Host())
        available = collectors if collectors is not None else COLLECTORS
        # Without groups `processes` has nothing to say, and it is no node_exporter name.
        default = [n for n in available if n != "processes" or config.process_groups]
        names = config.collectors if config.collectors is not None else default
        self.collectors = {name: available[name] for name in names}
        self.runs = CollectorRuns(config.collector_timeout, clock, spawn, wait)
        self._build_info = build_info()

    def collect(self) -> Iterator[Metric]:
        success = GaugeMetricFamily(
            "node_scrape_collector_success", "Whether a collector succeeded.", labels=["collector"]
        )
        duration = GaugeMetricFamily(
            "node_scrape_collector_duration_seconds",
            "Duration of a collector scrape.",
            labels=["collector"],
        )
        jobs = {name: partial(collect, self.ctx) for name, collect in self.collectors.items()}
        published: set[str] = set()
        for name, outcome in self.runs.run(jobs).items():
            duration.add_metric([name], outcome.duration)
            success.add_metric([name], 1 if outcome.success else 0)
            for family in outcome.families:
                if family.name in published:
                    log.warning("collector %s: %s is published already; dropped", name, family.name)
                    continue
                published.add(family.name)
                yield family
        yield success
        yield duration
        yield self._build_info


def load_config(path: Path | None) -> SystemConfig:
    if path is None:
        return SystemConfig()
    config = parse_model(SystemConfig, load_yaml(path), str(path))
    unknown = [n for n in config.collectors or [] if n not in COLLECTORS]
    if unknown:
        raise ConfigError(
            str(path),
            [
                f"collectors: unknown collector {n!r} (known: {', '.join(COLLECTORS)})"
                for n in unknown
            ],
        )
    return config


def build_registry(config: SystemConfig, host: Host | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SystemCollector(config, host))
    return registry


def host_from_args(args: argparse.Namespace, ps: Any = psutil) -> Host:
    """The machine the flags name; psutil is pointed at the same /proc, since its
    PROCFS_PATH is how psutil itself is told."""
    if args.procfs != Path("/proc"):
        ps.PROCFS_PATH = str(args.procfs)
    return Host(ps=ps, proc_root=args.procfs, sys_root=args.sysfs, root_fs=args.rootfs)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m exporters.system", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--listen", type=parse_listen, default=parse_listen("127.0.0.1:9101"))
    parser.add_argument("--config", type=Path, help="YAML file (see docs/exporters.md)")
    parser.add_argument(
        "--collector.textfile.directory",
        dest="textfile_directory",
        type=Path,
        help="publish the *.prom files of this directory (node_exporter's flag)",
    )
    for name, default in (("procfs", "/proc"), ("sysfs", "/sys"), ("rootfs", "/")):
        parser.add_argument(
            f"--path.{name}",
            dest=name,
            type=Path,
            default=Path(default),
            help=f"where the watched host's {default} is mounted (node_exporter's flag)",
        )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        exit_on_config_error(exc)
    if args.textfile_directory is not None:
        config = config.model_copy(update={"textfile_directory": args.textfile_directory})
    serve_forever(build_registry(config, host_from_args(args)), args.listen)


if __name__ == "__main__":
    main()
