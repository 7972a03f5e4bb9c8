"""The community's host rules and Node Exporter Full's default rows on our exporter.

A real Prometheus scrapes our system exporter every second and evaluates the
rules of samber/awesome-prometheus-alerts' node-exporter.yml (the fixture names
its upstream commit); a real node_exporter beside it shows which of those rules
this host can feed at all. The dashboard's queries are asked of that Prometheus
with Grafana's variables filled in as Grafana would fill them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from support.procs import find_binary, free_port, python_module, running, wait_until

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "community"
RULES = FIXTURES / "node-exporter-rules.yml"
DASHBOARD = FIXTURES / "node-exporter-full-default-rows.json"

# Families the rules read that we do not publish, and why (docs/exporters.md says so
# too): hardware and init-system sources psutil has no view of.
NOT_PUBLISHED = {
    "node_hwmon_temp_celsius": "hwmon sensors: chip naming of node_exporter not reproduced",
    "node_hwmon_temp_max_celsius": "hwmon sensors",
    "node_hwmon_temp_crit_alarm_celsius": "hwmon sensors",
    "node_hwmon_temp_alarm": "hwmon sensors",
    "node_md_disks": "software RAID (mdadm)",
    "node_md_disks_required": "software RAID (mdadm)",
    "node_edac_correctable_errors_total": "EDAC memory controllers",
    "node_edac_uncorrectable_errors_total": "EDAC memory controllers",
    "node_bonding_active": "bonded interfaces",
    "node_bonding_slaves": "bonded interfaces",
    "node_systemd_unit_state": "systemd over D-Bus (node_exporter's is off by default too)",
}


def rules() -> list[dict[str, Any]]:
    return [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]


def inputs(expr: str) -> set[str]:
    # Every input of this file is a node_* family; no PromQL function starts so.
    return set(re.findall(r"\bnode_[A-Za-z0-9_]+", expr))


def families(url: str) -> set[str]:
    text = requests.get(url, timeout=10).text
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] not in "#"}


@dataclass(frozen=True)
class Stack:
    prometheus: str
    ours: str
    theirs: str

    def api(self, path: str, **params: Any) -> Any:
        answer = requests.get(f"{self.prometheus}/api/v1/{path}", params=params, timeout=10)
        body = answer.json()
        assert body["status"] == "success", body
        return body["data"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("community")
    ours, theirs, prom = free_port(), free_port(), free_port()
    config = root / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(RULES)],
                "scrape_configs": [
                    {"job_name": "system", "static_configs": [{"targets": [f"127.0.0.1:{ours}"]}]}
                ],
            }
        )
    )
    with ExitStack() as stack:
        for name, argv, ready in (
            (
                "system-exporter",
                python_module("exporters.system", "--listen", f"127.0.0.1:{ours}"),
                f"http://127.0.0.1:{ours}/metrics",
            ),
            (
                "node_exporter",
                [find_binary("NODE_EXPORTER_BIN"), f"--web.listen-address=127.0.0.1:{theirs}"],
                f"http://127.0.0.1:{theirs}/metrics",
            ),
            (
                "prometheus",
                [
                    find_binary("PROMETHEUS_BIN"),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={root / 'data'}",
                    f"--web.listen-address=127.0.0.1:{prom}",
                ],
                f"http://127.0.0.1:{prom}/-/ready",
            ),
        ):
            stack.enter_context(running(name, argv, root, ready_url=ready))
        yield Stack(
            f"http://127.0.0.1:{prom}",
            f"http://127.0.0.1:{ours}/metrics",
            f"http://127.0.0.1:{theirs}/metrics",
        )


def test_every_input_of_the_community_rules_is_published(stack):
    ours = families(stack.ours)
    needed = set().union(*(inputs(rule["expr"]) for rule in rules()))
    missing = sorted(needed - ours - set(NOT_PUBLISHED))
    assert missing == [], f"the community rules read {missing}, which we do not publish"
    assert sorted(set(NOT_PUBLISHED) & ours) == [], "published now: take it off NOT_PUBLISHED"
    assert set(NOT_PUBLISHED) <= needed, "NOT_PUBLISHED names a family no rule reads"


def test_every_rule_node_exporter_can_feed_here_we_can_feed(stack):
    ours, theirs = families(stack.ours), families(stack.theirs)
    fed_by_them = [r["alert"] for r in rules() if inputs(r["expr"]) <= theirs]
    fed_by_us = [r["alert"] for r in rules() if inputs(r["expr"]) <= ours]
    assert fed_by_them, "node_exporter feeds none of the rules: is it running?"
    assert set(fed_by_them) <= set(fed_by_us)


def wait_for_scrapes(stack: Stack, count: int) -> None:
    def scraped() -> bool:
        result = stack.api("query", query="count_over_time(node_uname_info[30s])")["result"]
        return len(result) == 1 and float(result[0]["value"][1]) >= count

    wait_until(scraped, 30, f"{count} scrapes of our exporter")


def test_prometheus_evaluates_every_rule_against_our_exporter_without_error(stack):
    expected = {rule["alert"] for rule in rules()}
    wait_for_scrapes(stack, 3)  # evaluations against real samples, not only the first

    def evaluated() -> list[dict[str, Any]]:
        groups = stack.api("rules")["groups"]
        done = [r for g in groups for r in g["rules"] if not r["lastEvaluation"].startswith("0001")]
        return done if {r["name"] for r in done} == expected else []

    wait_until(lambda: bool(evaluated()), 30, "every community rule to be evaluated")
    broken = [(r["name"], r["lastError"]) for r in evaluated() if r["health"] != "ok"]
    assert broken == []


def fill(expr: str, job: str, node: str) -> str:
    # Grafana's $__rate_interval is at least four scrape intervals.
    return expr.replace("$__rate_interval", "4s").replace("$node", node).replace("$job", job)


def test_node_exporter_full_finds_our_host_and_every_default_panel_has_data(stack):
    dashboard = json.loads(DASHBOARD.read_text())
    wait_until(
        lambda: (
            len(stack.api("query", query="count_over_time(node_uname_info[10s])")["result"]) == 1
            and float(
                stack.api("query", query="count_over_time(node_uname_info[10s])")["result"][0][
                    "value"
                ][1]
            )
            >= 5
        ),
        30,
        "five scrapes of our exporter",
    )
    # The variables: label_values(node_uname_info, job), then its instances.
    jobs = stack.api("label/job/values", **{"match[]": "node_uname_info"})
    assert jobs == ["system"]
    nodes = stack.api("label/instance/values", **{"match[]": 'node_uname_info{job="system"}'})
    assert len(nodes) == 1
    empty = []
    for row in dashboard["rows"]:
        for panel in row["panels"]:
            for expr in panel["exprs"]:
                result = stack.api("query", query=fill(expr, "system", nodes[0]))["result"]
                if not result:
                    empty.append((row["title"], panel["title"], expr))
    assert empty == []
