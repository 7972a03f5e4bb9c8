"""An open console shows what happens without being reloaded: a new firing
alert's incident appears, and its timeline fills in as messages are delivered
and a playbook acts and is verified."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser.console_stack import REMEDIATED, SMS_RECIPIENT
from browser.pages import LIVE_TIMEOUT_MS, incident, timeline_kinds

pytestmark = pytest.mark.integration


def test_a_firing_alert_appears_and_its_deliveries_fill_the_timeline(stack, tab) -> None:
    page = tab.page
    navigations: list[str] = []
    page.goto(f"{stack.webhook}/")
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.evaluate("window.sameDocument = true")
    expect(page.locator("article.incident")).to_have_count(0)

    stack.fire("ArrivesLive", "svc-live")
    alert_id = stack.alert_id("ArrivesLive")
    article = incident(page, alert_id)
    expect(article).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(article).to_have_attribute("data-state", "firing")
    expect(article).to_have_attribute("data-severity", "critical")
    sms = article.locator(
        "ol.timeline > li[data-kind=delivery]", has_text=f"sms to {SMS_RECIPIENT}"
    )
    expect(sms).to_contain_text("delivered", timeout=LIVE_TIMEOUT_MS)

    assert any(m["To"] == SMS_RECIPIENT for m in stack.twilio.received)
    assert page.evaluate("window.sameDocument") is True
    assert navigations == []
    assert tab.errors == []


def test_a_playbooks_run_shows_on_the_timeline_as_it_happens(stack, tab) -> None:
    page = tab.page
    page.goto(f"{stack.webhook}/")
    stack.fire(REMEDIATED, "svc-remediated", severity="high")
    alert_id = stack.alert_id(REMEDIATED)
    article = incident(page, alert_id)
    timeline = article.locator("ol.timeline")
    expect(timeline.locator("li[data-kind=delivery]").first).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    verified = timeline.locator("li[data-kind=verified]")
    expect(verified).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(verified).to_contain_text("browser-fix on service=svc-remediated — verified after")
    # One line per run; its steps behind a click.
    expect(article.locator("li.run details.run-detail")).to_contain_text("run_command")
    assert stack.acted.read_text() == "svc-remediated\n"
    kinds = timeline_kinds(page, alert_id)
    assert kinds.index("fired") < kinds.index("verified") and "remediation" not in kinds
    assert tab.errors == []
