"""Dashboards parse, query valid PromQL, and only name metrics the stack publishes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.procs import find_binary

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
BUILTIN = {"up", "ALERTS", "ALERTS_FOR_STATE"}
SUFFIXES = ("_bucket", "_count", "_sum")
# Label lists, matchers and ranges hold no metric names; strings neither.
NOT_NAMES = re.compile(r'"[^"]*"|\{[^}]*\}|\[[^\]]*\]|\b(?:by|without)\s*\([^)]*\)')
IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*+(?!\s*\()")


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def known_metrics() -> set[str]:
    contract = (ROOT / "docs" / "metrics.md").read_text()
    names = set(re.findall(r"`([a-z_:][a-z0-9_:]*)`", contract))
    for path in (ROOT / "rules").glob("*.yml"):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            names |= {r["record"] for r in group["rules"] if "record" in r}
    return names | BUILTIN


def metric_names(expr: str) -> set[str]:
    stripped = NOT_NAMES.sub(" ", expr)
    return {
        m.group(0)
        for m in IDENTIFIER.finditer(stripped)
        if "_" in m.group(0) or ":" in m.group(0) or m.group(0) in BUILTIN
    }


def test_there_are_dashboards() -> None:
    assert DASHBOARDS, "grafana/dashboards/ holds the provisioned dashboards"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_shape(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    provisioned = yaml.safe_load(
        (ROOT / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )
    uid = provisioned["datasources"][0]["uid"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == uid, panel["title"]
            assert panel["targets"], panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_names_only_published_metrics(path: Path) -> None:
    known = known_metrics()
    unknown = {
        name
        for expr in _exprs(json.loads(path.read_text()))
        for name in metric_names(expr)
        if name not in known
        and not any(name.endswith(s) and name[: -len(s)] in known for s in SUFFIXES)
    }
    assert not unknown, f"not in docs/metrics.md nor a recording rule: {sorted(unknown)}"


def test_metric_name_extraction() -> None:
    expr = 'sum by (job, le) (rate(http_request_duration_seconds_bucket{status=~"5.."}[5m]))'
    assert metric_names(expr) == {"http_request_duration_seconds_bucket"}
    assert metric_names("histogram_quantile(0.9, x_bucket)") == {"x_bucket"}
    assert metric_names("time() - backup_last_success_timestamp_seconds") == {
        "backup_last_success_timestamp_seconds"
    }


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_query_is_valid_promql(path: Path, tmp_path: Path) -> None:
    # promtool checks PromQL offline when the queries are written as recording rules.
    rules = [
        {"record": f"dashboard:query_{i}:check", "expr": expr}
        for i, expr in enumerate(_exprs(json.loads(path.read_text())))
    ]
    rule_file = tmp_path / "dashboard_queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [find_binary("PROMTOOL_BIN"), "check", "rules", str(rule_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_quantile_panel_shows_the_quantile_its_title_and_the_alert_name() -> None:
    # "p95 (alert > 5 s)" must plot the quantile ApiResponseTimeHigh judges, or the
    # graph and the alert disagree about the same route.
    params = yaml.safe_load((ROOT / "rules" / "src" / "params.yml").read_text())
    alert_quantile = float(params["api_latency_quantile"])
    recorded = "job_handler:http_request_duration_seconds:quantile_rate5m"
    checked = 0
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            named = re.search(r"\bp(\d{2})\b", panel.get("title", ""))
            if not named:
                continue
            title_quantile = int(named.group(1)) / 100
            for expr in (t["expr"] for t in panel.get("targets", [])):
                plotted = re.findall(r"histogram_quantile\(\s*([0-9.]+)", expr)
                shown = {float(q) for q in plotted} | (
                    {alert_quantile} if recorded in expr else set()
                )
                assert shown == {title_quantile}, (panel["title"], expr)
            if "alert" in panel["title"]:
                assert title_quantile == alert_quantile, panel["title"]
            checked += 1
    assert checked, "the dashboards have a latency quantile panel"
