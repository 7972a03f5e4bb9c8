"""The post-incident report in Chromium: an incident healed by a real playbook
run through a real Alertmanager and webhook, resolved; the console links it to
its report; the report page shows the Markdown as text (a hostile label stays
text, nothing runs) and an operator adds a follow-up through the form (login +
CSRF), which the Markdown then carries."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect
from support.procs import wait_until

from browser.console_stack import OPERATOR, REMEDIATED
from browser.pages import incident, log_in

pytestmark = pytest.mark.integration

HOSTILE = '<img src=x onerror="window.pwned=1">[x](javascript:alert(1)) ```'


def _run_status(stack, alert_id: int) -> str | None:
    runs = [r for r in stack.get("/api/remediations")["remediations"] if r["alert_id"] == alert_id]
    return runs[0]["status"] if runs else None


def test_a_healed_incidents_report_and_its_follow_up(stack, tab) -> None:
    page = tab.page
    log_in(page, stack)
    stack.fire(REMEDIATED, "svc-report", detail=HOSTILE)
    alert_id = stack.alert_id(REMEDIATED)
    wait_until(lambda: _run_status(stack, alert_id) == "verified", 30, "the fix verified")
    stack.resolve(REMEDIATED, "svc-report", detail=HOSTILE)
    wait_until(lambda: (stack.incident(REMEDIATED) or {}).get("closed_at"), 30, "resolved")

    page.goto(f"{stack.webhook}/")
    page.click("details#resolved > summary")  # resolved incidents are folded away
    with page.expect_navigation():
        incident(page, alert_id).locator("a.report").click()
    assert page.url == f"{stack.webhook}/incidents/{alert_id}/report"
    report = page.locator("pre#report")
    expect(report).to_contain_text(f"# Post-incident report: incident {alert_id}, svc-report")
    expect(report).to_contain_text('\\<img src=x onerror="window.pwned=1"\\>')
    assert page.locator("img").count() == 0
    assert page.evaluate("window.pwned") is None
    expect(page.locator("a.runbook")).to_have_attribute(
        "href", f"https://example.org/runbooks/{REMEDIATED}"
    )

    page.fill("form.action-follow-up input[name=note]", f"watch {HOSTILE}")
    with page.expect_navigation():
        page.click("form.action-follow-up button")
    assert page.url.endswith(f"/incidents/{alert_id}/report#follow-ups")
    expect(report).to_contain_text(f"{OPERATOR}: watch \\<img src=x")
    markdown = requests.get(
        f"{stack.webhook}/api/incidents/{alert_id}/report", headers=stack.bearer(), timeout=5
    ).text
    assert "- **Automation:** healed it: " in markdown
    assert f"{OPERATOR}: watch \\<img src=x onerror=" in markdown
    assert tab.errors == []
    print(markdown)  # the report the closing note shows (pytest -s)
