"""`python -m stack hosts`: each watched host and the state of its system exporter.

The hosts are the inventory's (`--inventory FILE`, else the one the running stack
was started with) and this machine's. A host's state is what the running
Prometheus says of its `system` target (`/api/v1/targets`), when Prometheus
answers and has scraped it; otherwise the exporter itself is asked for its
metrics with a short timeout. Exit status 0 when every exporter is up, 1 when
any is not, 2 for a missing or broken inventory.

`--sync` first re-renders the targets files from the inventory (after you
changed it): Prometheus applies them by itself, without a restart.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import requests

from alert_webhook.fleet.inventory import Host
from stack.ports import HOST, ports_from_env
from stack.targets import (
    SYSTEM_JOB,
    local_host,
    read_inventory,
    recorded,
    sync,
    watched_hosts,
)

UP, DOWN, UNKNOWN = "up", "down", "unknown"
PROMETHEUS_TIMEOUT = 2.0
EXPORTER_TIMEOUT = 2.0


class Getter(Protocol):
    def get(self, url: str, *, timeout: float) -> Any: ...


@dataclass(frozen=True)
class HostState:
    host: Host
    state: str  # up | down | unknown
    source: str  # prometheus | exporter
    detail: str = ""


def prometheus_states(http: Getter, prometheus_url: str) -> dict[str, tuple[str, str]] | None:
    """The `system` targets Prometheus has, by instance: (health, last error); None
    when Prometheus does not answer."""
    try:
        answer = http.get(
            f"{prometheus_url}/api/v1/targets?state=active", timeout=PROMETHEUS_TIMEOUT
        )
        targets = answer.json()["data"]["activeTargets"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return None
    return {
        t["labels"]["instance"]: (t.get("health", UNKNOWN), _last_words(t.get("lastError", "")))
        for t in targets
        if t.get("labels", {}).get("job") == SYSTEM_JOB and "instance" in t["labels"]
    }


def _last_words(error: str) -> str:
    """Prometheus's scrape error without the URL and call in front of it:
    `Get "http://…": dial tcp …: connect: connection refused` → `connection refused`."""
    return error.rsplit(": ", 1)[-1]


def scrape(http: Getter, host: Host) -> tuple[str, str]:
    """The exporter asked directly: up when its /metrics answers 200."""
    try:
        answer = http.get(f"http://{host.exporter}/metrics", timeout=EXPORTER_TIMEOUT)
    except requests.RequestException as exc:
        return DOWN, type(exc).__name__
    if answer.status_code == 200:
        return UP, ""
    return DOWN, f"HTTP {answer.status_code}"


def states(hosts: Sequence[Host], http: Getter, prometheus_url: str) -> list[HostState]:
    """Each host's state: Prometheus's view of its target when it has scraped it,
    else its exporter asked directly (side by side: 50 dead hosts cost one timeout,
    not fifty)."""
    known = prometheus_states(http, prometheus_url) or {}

    def one(host: Host) -> HostState:
        health, error = known.get(host.exporter, (UNKNOWN, ""))
        if health in (UP, DOWN):
            return HostState(host, health, "prometheus", error)
        state, detail = scrape(http, host)
        return HostState(host, state, "exporter", detail)

    with ThreadPoolExecutor(max_workers=min(16, len(hosts) or 1)) as pool:
        return list(pool.map(one, hosts))


def table(rows: Sequence[HostState]) -> list[str]:
    header = ("HOST", "ADDRESS", "GROUPS", "EXPORTER", "STATE", "FROM", "DETAIL")
    lines = [header] + [
        (
            r.host.name,
            r.host.address,
            ",".join(r.host.groups) or "-",
            r.host.exporter,
            r.state,
            r.source,
            r.detail,
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]


def hosts(
    root: Path,
    env: Mapping[str, str],
    inventory: Path | None = None,
    resync: bool = False,
    out: IO[str] = sys.stdout,
    http: Getter | None = None,
) -> int:
    ports = ports_from_env(env)
    if resync:
        fleet = sync(root, inventory, ports)
        where = fleet.inventory or "this machine alone"
        print(f"targets re-rendered from {where} in {fleet.folder}", file=out)
        watched, url = fleet.hosts, fleet.prometheus_url
    else:
        state = recorded(root) or {}
        if inventory is None and state.get("inventory"):
            inventory = Path(state["inventory"])
        port = int(state.get("local_exporter_port") or ports["system_exporter"])
        watched = watched_hosts(read_inventory(inventory), local_host(port))
        url = str(state.get("prometheus_url") or f"http://{HOST}:{ports['prometheus']}")
    rows = states(watched, http or requests.Session(), url)
    for line in table(rows):
        print(line, file=out)
    return 0 if all(r.state == UP for r in rows) else 1
