"""The committed rule files as data, for the tests in this folder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from exporters.categories import Category

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules"
RULE_TESTS = RULES / "tests"
RUNBOOKS = REPO / "docs" / "runbooks"
RUNBOOK_BASE = "https://github.com/recovery-stack/recovery-stack/blob/main/docs/runbooks/"

SEVERITIES = {"critical", "high", "medium", "low"}
# The plan's six error types, as the probes classify failures.
CATEGORIES = {c.value for c in Category}


@dataclass(frozen=True)
class Rule:
    file: str
    raw: dict[str, Any]

    @property
    def name(self) -> str:
        return self.raw.get("alert") or self.raw["record"]

    @property
    def is_alert(self) -> bool:
        return "alert" in self.raw


def rule_files() -> list[Path]:
    return sorted(RULES.glob("*.yml"))


def rules() -> list[Rule]:
    found = []
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [Rule(path.name, raw) for raw in group["rules"]]
    return found


def alerts() -> list[Rule]:
    return [rule for rule in rules() if rule.is_alert]


def alert_names() -> set[str]:
    return {rule.name for rule in alerts()}


# --- Which metrics a rule reads --------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "offset", "bool", "by", "without", "on", "ignoring"}
_KEYWORDS |= {"group_left", "group_right", "inf", "nan", "Inf", "NaN"}


def series_read(expr: str) -> set[str]:
    """Names of the series an expression reads, recordings (with `:`) included."""
    text = _LABEL_LIST.sub(" ", _MATCHERS.sub(" ", _RANGE.sub(" ", _STRING.sub(" ", expr))))
    names = set()
    for match in _IDENT.finditer(text):
        name = match.group()
        after = text[match.end() :].lstrip()
        if name in _KEYWORDS or after.startswith("("):
            continue  # a keyword or a function call
        if match.start() > 0 and text[match.start() - 1].isdigit():
            continue  # the unit of a number such as 3600 or 1e3
        names.add(name)
    return names


def metrics_read(expr: str) -> set[str]:
    """Names of the stored series an expression reads; recordings (with `:`) excluded."""
    return {name for name in series_read(expr) if ":" not in name}


def alert_inputs(rule: Rule) -> set[str]:
    """The stored series an alert reads, directly or through the recordings it reads."""
    recordings = {r.name: r.raw["expr"] for r in rules() if not r.is_alert}
    inputs: set[str] = set()
    seen: set[str] = set()
    todo = [rule.raw["expr"]]
    while todo:
        for name in series_read(todo.pop()):
            if name in recordings:
                if name not in seen:
                    seen.add(name)
                    todo.append(recordings[name])
            elif ":" in name:
                raise ValueError(f"{rule.name} reads {name}, which no rule records")
            else:
                inputs.add(name)
    return inputs


def inputs_by_file() -> dict[str, set[str]]:
    """Rule file name → the exporter metrics its rules read."""
    result: dict[str, set[str]] = {}
    for rule in rules():
        result.setdefault(rule.file, set()).update(metrics_read(rule.raw["expr"]))
    return result


# --- Alerts the webhook raises itself --------------------------------------


def webhook_alerts() -> list[Rule]:
    """The alerts alert_webhook raises itself (it declares them in OWN_ALERTS), as
    Rules with the runbook_url the webhook gives them under its default settings."""
    from alert_webhook.config.settings import Settings
    from alert_webhook.ingest.own import OWN_ALERTS, runbook_url

    base = Settings().links.runbook_base_url
    return [
        Rule(
            "alert_webhook/ingest/own.py",
            {
                "alert": name,
                "labels": {"alertname": name, "severity": severity},
                "annotations": {"runbook_url": runbook_url(base, name)},
            },
        )
        for name, severity in OWN_ALERTS.items()
    ]
