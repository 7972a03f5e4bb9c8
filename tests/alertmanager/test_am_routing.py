"""alertmanager.yml: valid for amtool, and each severity, the fallback and the
Watchdog reach their own receiver (cases in alertmanager/tests/routes.yml),
checked with `amtool config routes test`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.procs import find_binary

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "alertmanager" / "alertmanager.yml"
ROUTE_CASES = REPO / "alertmanager" / "tests" / "routes.yml"
sys.path.insert(0, str(REPO / "tests" / "rules"))
from ruleset import alerts  # noqa: E402

WEBHOOK_URL = "http://127.0.0.1:9095/alerts"


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [find_binary("AMTOOL_BIN"), *args], capture_output=True, text=True, timeout=60
    )


def route_of(labels: dict[str, str], expected: str) -> subprocess.CompletedProcess[str]:
    return amtool(
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        f"--verify.receivers={expected}",
        *(f"{k}={v}" for k, v in labels.items()),
    )


@pytest.mark.integration
def test_amtool_accepts_the_config() -> None:
    result = amtool("check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    "case", yaml.safe_load(ROUTE_CASES.read_text()), ids=lambda c: "-".join(c["labels"].values())
)
@pytest.mark.integration
def test_route(case: dict) -> None:
    result = route_of(case["labels"], case["receiver"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == case["receiver"]


@pytest.mark.integration
def test_routes_test_fails_on_a_wrong_receiver() -> None:
    """The check above would be worthless if amtool accepted any receiver."""
    result = route_of({"alertname": "X", "severity": "critical"}, "webhook-low")
    assert result.returncode != 0


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: f"{r.name}-{r.raw['labels']['severity']}")
@pytest.mark.integration
def test_every_rule_reaches_the_receiver_of_its_severity(rule) -> None:
    labels = {"alertname": rule.name, **rule.raw["labels"]}
    expected = "heartbeat" if rule.name == "Watchdog" else f"webhook-{labels['severity']}"
    result = route_of(labels, expected)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_receiver_is_the_webhook_with_auth_and_resolved() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    receivers = config["receivers"]
    assert {r["name"] for r in receivers} == {
        "webhook-critical",
        "webhook-high",
        "webhook-medium",
        "webhook-low",
        "webhook-fallback",
        "heartbeat",
    }
    for receiver in receivers:
        (hook,) = receiver["webhook_configs"]
        assert hook["url"] == WEBHOOK_URL
        assert hook["send_resolved"] is True
        auth = hook["http_config"]["authorization"]
        assert auth == {"type": "Bearer", "credentials_file": "webhook-token"}


def test_critical_is_fast_and_low_is_patient() -> None:
    routes = {r["receiver"]: r for r in yaml.safe_load(CONFIG.read_text())["route"]["routes"]}
    seconds = {"s": 1, "m": 60, "h": 3600}

    def dur(text: str) -> int:
        return int(text[:-1]) * seconds[text[-1]]

    critical, low = routes["webhook-critical"], routes["webhook-low"]
    assert dur(critical["repeat_interval"]) == 3600
    assert dur(critical["group_wait"]) <= 10
    assert dur(low["group_wait"]) > dur(routes["webhook-high"]["group_wait"])
    assert dur(low["repeat_interval"]) == 24 * 3600
