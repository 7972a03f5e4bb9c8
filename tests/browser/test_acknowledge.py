"""An operator acknowledges from the console: the page names them, and the
incident is not escalated to the next tier when its deadline passes, while an
unacknowledged one beside it is."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from support.procs import wait_until

from browser.console_stack import EMAIL_TIER2, OPERATOR, SMS_TIER2
from browser.pages import incident, log_in, timeline_kinds

pytestmark = pytest.mark.integration

# A critical incident's deadline, short enough to pass within the test and long
# enough for the operator to log in and click first.
DEADLINE = 8.0
WEBHOOK_OVERRIDES = {
    "incidents": {"deadlines_seconds": {"critical": DEADLINE, "high": 3600, "medium": 14400,
                                        "low": 86400}},
}  # fmt: skip


def _tier2(stack, alert_id: int) -> list[str]:
    """Who was told as the next tier about this alert."""
    return [
        d["recipient"]
        for d in stack.deliveries(alert_id)
        if d["purpose"].startswith("tier-") and d["recipient"] in (SMS_TIER2, EMAIL_TIER2)
    ]


def test_acknowledging_names_the_operator_and_stops_escalation(stack, tab) -> None:
    page = tab.page
    log_in(page, stack)
    stack.fire("AckedInTime", "svc-acked")
    stack.fire("NobodyAcked", "svc-unacked")
    acked, unacked = stack.alert_id("AckedInTime"), stack.alert_id("NobodyAcked")
    page.reload()

    with page.expect_navigation():
        incident(page, acked).locator("form.action-ack button").click()
    article = incident(page, acked)
    expect(article.locator(".times")).to_contain_text(f"acknowledged by {OPERATOR}")
    expect(article.locator("ol.timeline > li[data-kind=acknowledged]")).to_contain_text(OPERATOR)
    expect(article.locator("form.action-ack")).to_have_count(0)
    assert stack.incident("AckedInTime")["acked_by"] == OPERATOR

    # The deadline passes for both: only the one nobody acknowledged goes on.
    wait_until(lambda: _tier2(stack, unacked), DEADLINE + 10, "the next tier told of NobodyAcked")
    assert set(_tier2(stack, unacked)) == {EMAIL_TIER2, SMS_TIER2}
    wait_until(
        lambda: any(m["To"] == SMS_TIER2 for m in stack.twilio.received), 10, "the tier-2 SMS"
    )
    assert stack.incident("NobodyAcked")["tier"] == 2
    assert _tier2(stack, acked) == []
    assert stack.incident("AckedInTime")["tier"] == 1
    assert "acknowledged" not in timeline_kinds(page, unacked)
