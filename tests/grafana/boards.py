"""The committed dashboards as the grafana tests read them, and the PromQL helpers they share."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
DASHBOARDS = sorted(DASHBOARD_DIR.glob("*.json"))
PROVISIONED_DATASOURCE = ROOT / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
BUILTIN = {"up", "ALERTS", "ALERTS_FOR_STATE"}
SUFFIXES = ("_bucket", "_count", "_sum")
# Label lists, matchers and ranges hold no metric names; strings neither.
NOT_NAMES = re.compile(r'"[^"]*"|\{[^}]*\}|\[[^\]]*\]|\b(?:by|without)\s*\([^)]*\)')
IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*+(?!\s*\()")
VARIABLE = re.compile(r"\$(\w+)")


def load(path: Path) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The panels that draw something (rows left out)."""
    return (p for p in dashboard["panels"] if p["type"] != "row")


def exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in panels(dashboard) for t in p["targets"]]


def provisioned_uid() -> str:
    uid: str = yaml.safe_load(PROVISIONED_DATASOURCE.read_text())["datasources"][0]["uid"]
    return uid


def metric_names(expr: str) -> set[str]:
    stripped = NOT_NAMES.sub(" ", expr)
    return {
        m.group(0)
        for m in IDENTIFIER.finditer(stripped)
        if "_" in m.group(0) or ":" in m.group(0) or m.group(0) in BUILTIN
    }


def fill(expr: str, rate_interval: str) -> str:
    """A panel's query as Grafana sends it with every variable at "All" (`.*`)."""
    expr = expr.replace("$__rate_interval", rate_interval)
    return VARIABLE.sub(".*", expr)
