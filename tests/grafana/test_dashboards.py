"""Dashboards have Grafana's structure, query valid PromQL, name only published
metrics, and draw each alert's threshold at the rule's own value."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from boards import (
    BUILTIN,
    DASHBOARDS,
    ROOT,
    SUFFIXES,
    VARIABLE,
    exprs,
    fill,
    load,
    metric_names,
    panels,
    provisioned_uid,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard
from support.procs import find_binary

PARAMS: dict[str, Any] = yaml.safe_load((ROOT / "rules" / "src" / "params.yml").read_text())
RULE_SOURCES = sorted((ROOT / "rules" / "src").glob("*.yml"))
UIDS = {
    "host.json": "recovery-stack-host",
    "services.json": "recovery-stack-services",
    "alerts.json": "recovery-stack-alerts",
}
# Series that are 1 or 0 (up or down): drawn as state timelines, never as lines.
UP_DOWN = {"up", "probe_success", "node_scrape_collector_success", "backup_checksum_ok"}
COMPARED_PARAM = re.compile(r"[<>]=?\s*\$\{(\w+)\}")
by_name = pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)


def known_metrics() -> set[str]:
    contract = (ROOT / "docs" / "metrics.md").read_text()
    names = set(re.findall(r"`([A-Za-z_:][A-Za-z0-9_:]*)`", contract))
    for path in (ROOT / "rules").glob("*.yml"):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            names |= {r["record"] for r in group["rules"] if "record" in r}
    return names | BUILTIN


def alert_exprs() -> dict[str, str]:
    """Each alert's expression as written in rules/src, with its ${param}s."""
    found: dict[str, str] = {}
    for path in RULE_SOURCES:
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            found |= {r["alert"]: r["expr"] for r in group["rules"] if "alert" in r}
    return found


def test_the_three_dashboards_have_stable_uids() -> None:
    assert {p.name: load(p)["uid"] for p in DASHBOARDS} == UIDS


@by_name
def test_grafanas_own_types_read_the_dashboard_back_unchanged(path: Path) -> None:
    # A key Grafana's schema does not know, or a value of the wrong shape, would be
    # dropped or refused on the way through the generated model.
    raw = load(path)
    assert json.loads(json.dumps(Dashboard.from_json(raw), cls=JSONEncoder)) == raw


@by_name
def test_dashboard_shape(path: Path) -> None:
    dashboard = load(path)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and 0 not in ids, "panel ids are unique and set"
    for panel in panels(dashboard):
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])


@by_name
def test_a_datasource_variable_defaults_to_the_provisioned_prometheus(path: Path) -> None:
    variables = {v["name"]: v for v in load(path)["templating"]["list"]}
    source = variables["datasource"]
    assert (source["type"], source["query"]) == ("datasource", "prometheus")
    assert source["current"]["value"] == provisioned_uid()


def service_labelled() -> set[str]:
    """The webhook's families that carry a `service` label (docs/metrics.md), and
    ALERTS, whose rules set one."""
    rows = (line.split("|") for line in (ROOT / "docs" / "metrics.md").read_text().splitlines())
    return {"ALERTS"} | {
        name
        for cells in rows
        if len(cells) > 4 and "`service`" in cells[3]
        for name in re.findall(r"`(alert_webhook_\w+)`", cells[1])
    }


@by_name
def test_an_instance_or_service_variable_filters_the_panels(path: Path) -> None:
    dashboard = load(path)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    [name] = {"instance", "service"} & set(variables)
    chosen = variables[name]
    assert chosen["type"] == "query" and chosen["datasource"]["uid"] == "${datasource}"
    assert chosen["includeAll"] and chosen["allValue"] == ".*"
    # On the alerts board only the series that carry a service can be filtered.
    labelled = service_labelled()
    for expr in exprs(dashboard):
        assert set(VARIABLE.findall(expr)) <= {name, "__rate_interval"}, expr
        filterable = path.name != "alerts.json" or any(
            n in labelled
            or n.removesuffix("_sum").removesuffix("_count").removesuffix("_bucket") in labelled
            for n in metric_names(expr)
        )
        assert (f"${name}" in expr) == filterable, expr


@by_name
def test_every_panel_has_one_unit(path: Path) -> None:
    for panel in panels(load(path)):
        assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]
        for override in panel["fieldConfig"]["overrides"]:
            changed = {p["id"] for p in override["properties"]}
            assert "unit" not in changed, f"{panel['title']}: a second unit on one axis"


@by_name
def test_rates_use_grafanas_rate_interval(path: Path) -> None:
    # $__rate_interval is at least four scrapes whatever the zoom, so a rate never
    # falls between two samples and vanishes.
    for expr in exprs(load(path)):
        assert set(re.findall(r"\[([^\]]*)\]", expr)) <= {"$__rate_interval"}, expr


@by_name
def test_up_down_series_are_state_timelines(path: Path) -> None:
    for panel in panels(load(path)):
        names = set().union(*(metric_names(t["expr"]) for t in panel["targets"]))
        if names & UP_DOWN:
            assert panel["type"] == "state-timeline", panel["title"]
            assert panel["fieldConfig"]["defaults"]["mappings"], panel["title"]


def test_every_up_down_series_has_its_timeline() -> None:
    drawn = {
        name
        for path in DASHBOARDS
        for panel in panels(load(path))
        if panel["type"] == "state-timeline"
        for t in panel["targets"]
        for name in metric_names(t["expr"])
    }
    assert drawn >= UP_DOWN


def test_every_threshold_line_is_its_rules_value() -> None:
    alerts = alert_exprs()
    lines = 0
    for path in DASHBOARDS:
        for panel in panels(load(path)):
            steps = panel["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
            values = [s["value"] for s in steps if s["value"] is not None]
            if not values:
                continue
            linked = [re.search(r"/(\w+)\.md$", link["url"]) for link in panel.get("links", [])]
            named = [m.group(1) for m in linked if m]
            assert len(named) == 1, f"{panel['title']}: its line links the alert's runbook"
            compared = COMPARED_PARAM.findall(alerts[named[0]])
            assert compared, f"{named[0]} compares against no parameter"
            assert values == [PARAMS[compared[0]]], (panel["title"], named[0], compared[0])
            style = panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"]
            assert style != "off", f"{panel['title']}: the threshold is drawn"
            lines += 1
    assert lines >= 10, "the dashboards draw the alerts' thresholds"


@by_name
def test_dashboard_names_only_published_metrics(path: Path) -> None:
    known = known_metrics()
    unknown = {
        name
        for expr in exprs(load(path))
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


def test_variables_are_filled_as_grafana_sends_all() -> None:
    expr = 'rate(x_total{service=~"$service"}[$__rate_interval])'
    assert fill(expr, "4s") == 'rate(x_total{service=~".*"}[4s])'


@by_name
@pytest.mark.integration
def test_every_query_is_valid_promql(path: Path, tmp_path: Path) -> None:
    # promtool checks PromQL offline when the queries are written as recording rules.
    rules = [
        {"record": f"dashboard:query_{i}:check", "expr": fill(expr, "1m")}
        for i, expr in enumerate(exprs(load(path)))
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
    alert_quantile = float(PARAMS["api_latency_quantile"])
    recorded = "job_handler:http_request_duration_seconds:quantile_rate5m"
    checked = 0
    for path in DASHBOARDS:
        for panel in panels(load(path)):
            named = re.search(r"\bp(\d{2})\b", panel.get("title", ""))
            if not named:
                continue
            title_quantile = int(named.group(1)) / 100
            for expr in (t["expr"] for t in panel["targets"]):
                plotted = re.findall(r"histogram_quantile\(\s*([0-9.]+)", expr)
                shown = {float(q) for q in plotted} | (
                    {alert_quantile} if recorded in expr else set()
                )
                assert shown == {title_quantile}, (panel["title"], expr)
            if "alert" in panel["title"]:
                assert title_quantile == alert_quantile, panel["title"]
            checked += 1
    assert checked, "the dashboards have a latency quantile panel"
