"""An operator silences an incident from the console: a real silence in
Alertmanager, made of the incident's labels, which mutes the alert there; when
the alert resolves at its source (which Alertmanager, silencing it, never tells
the webhook), the silence is expired and the console shows the incident
resolved."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import requests
from playwright.sync_api import expect
from support.procs import wait_until

from browser.console_stack import OPERATOR
from browser.pages import LIVE_TIMEOUT_MS, incident, log_in

pytestmark = pytest.mark.integration

# How often the webhook asks Alertmanager whether a silenced alert still fires.
WEBHOOK_OVERRIDES = {"incidents": {"silence_check_seconds": 1}}


def _service(name: str) -> str:
    """Each test's alert on a service of its own: one incident each."""
    return f"svc-{name.lower()}"


def _matches(silence: dict[str, Any], name: str) -> bool:
    alertname = {"name": "alertname", "value": name, "isRegex": False, "isEqual": True}
    return alertname in silence["matchers"]


def _silences(stack, name: str) -> list[dict[str, Any]]:
    """Alertmanager's silences of the alert named so."""
    response = requests.get(f"{stack.alertmanager}/api/v2/silences", timeout=5)
    response.raise_for_status()
    return [s for s in response.json() if _matches(s, name)]


def _alert_in_alertmanager(stack, name: str) -> dict[str, Any]:
    response = requests.get(
        f"{stack.alertmanager}/api/v2/alerts", params={"filter": f'alertname="{name}"'}, timeout=5
    )
    response.raise_for_status()
    [alert] = response.json()
    found: dict[str, Any] = alert
    return found


def _silence_from_console(stack, page, name: str) -> tuple[int, dict[str, Any]]:
    """Log in, fire `name`, silence its incident for 1 h with the console's form;
    its alert id and the silence Alertmanager then holds."""
    log_in(page, stack)
    stack.fire(name, _service(name), severity="high")
    alert_id = stack.alert_id(name)
    page.reload()
    form = incident(page, alert_id).locator("form.action-silence")
    form.locator("select[name=minutes]").select_option("60")
    with page.expect_navigation() as navigation:
        form.locator("button").click()
    assert navigation.value.status == 200 and page.url == f"{stack.webhook}/"
    [silence] = _silences(stack, name)
    return alert_id, silence


def _epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def test_the_console_makes_a_silence_of_the_incidents_labels_in_alertmanager(stack, tab) -> None:
    name = "SilencedFromConsole"
    _, silence = _silence_from_console(stack, tab.page, name)
    assert silence["status"]["state"] == "active"
    assert silence["createdBy"] == OPERATOR
    assert {m["name"]: m["value"] for m in silence["matchers"]} == {
        "alertname": name, "service": _service(name), "severity": "high",
        "instance": f"{_service(name)}:8080", "job": _service(name),
    }  # fmt: skip
    assert not any(m["isRegex"] for m in silence["matchers"])
    length = _epoch(silence["endsAt"]) - _epoch(silence["startsAt"])
    assert 59 * 60 <= length <= 61 * 60
    assert stack.incident(name)["silence_id"] == silence["id"]
    muted = _alert_in_alertmanager(stack, name)["status"]
    assert (muted["state"], muted["silencedBy"]) == ("suppressed", [silence["id"]])
    assert tab.errors == []


def test_the_silence_is_expired_and_the_incident_resolved_when_the_alert_resolves(
    stack, tab
) -> None:
    name = "SilencedThenResolved"
    page = tab.page
    alert_id, silence = _silence_from_console(stack, page, name)
    silenced = incident(page, alert_id).locator("ol.timeline > li[data-kind=silenced]")
    expect(silenced).to_contain_text(OPERATOR)

    stack.resolve(name, _service(name), severity="high")
    wait_until(
        lambda: _silences(stack, name)[0]["status"]["state"] == "expired",
        20,
        "the silence expired after the alert resolved",
    )
    article = incident(page, alert_id)
    expect(article).to_have_attribute("data-state", "resolved", timeout=LIVE_TIMEOUT_MS)
    assert stack.incident(name)["closed_at"] is not None
    assert tab.errors == []
