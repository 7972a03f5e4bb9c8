"""The committed rule files as data, for the tests in this folder."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules"
RULE_TESTS = RULES / "tests"
RUNBOOKS = REPO / "docs" / "runbooks"
RUNBOOK_BASE = "https://github.com/recovery-stack/recovery-stack/blob/main/docs/runbooks/"

SEVERITIES = {"critical", "high", "medium", "low"}
CATEGORIES = {
    "connection",
    "timeout",
    "authentication",
    "permission",
    "resource_exhaustion",
    "data_integrity",
}


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

WEBHOOK_SOURCE = REPO / "alert_webhook"


def _module_strings(tree: ast.Module) -> dict[str, str]:
    """Module-level NAME = "string" constants."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def _literal_dict(node: ast.AST, strings: dict[str, str]) -> dict[str, Any]:
    """A dict literal's string keys → str values (names resolved) or nested dicts."""
    if not isinstance(node, ast.Dict):
        return {}
    result: dict[str, Any] = {}
    for key, value in zip(node.keys, node.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            result[key.value] = value.value
        elif isinstance(value, ast.Name) and value.id in strings:
            result[key.value] = strings[value.id]
        elif isinstance(value, ast.Dict):
            result[key.value] = _literal_dict(value, strings)
    return result


def webhook_alerts() -> list[Rule]:
    """Alerts alert_webhook builds itself, found in its code as Alertmanager-shaped
    dict literals ({"labels": {"alertname": ..., "severity": ...}, "annotations":
    {"runbook_url": ...}}), as Rules whose `file` is the module raising them."""
    found = []
    for path in sorted(WEBHOOK_SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        strings = _module_strings(tree)
        for node in ast.walk(tree):
            alert = _literal_dict(node, strings)
            labels, annotations = alert.get("labels"), alert.get("annotations")
            if isinstance(labels, dict) and "alertname" in labels:
                raw = {
                    "alert": labels["alertname"],
                    "labels": labels,
                    "annotations": annotations if isinstance(annotations, dict) else {},
                }
                found.append(Rule(str(path.relative_to(REPO)), raw))
    return found
