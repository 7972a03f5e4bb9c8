"""The operator's other actions from the console: approving a playbook's run
that waits for a person, rejecting one with a reason, and closing an incident
as handled with a note. Each is done by clicking the incident's form, and the
page names the operator."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from support.procs import wait_until

from browser.console_stack import NEEDS_APPROVAL, OPERATOR
from browser.pages import incident, log_in

pytestmark = pytest.mark.integration


def _awaiting_approval(stack, page, service: str) -> Any:
    """Log in, fire the gated playbook's alert on `service`: its incident on a
    console loaded once the run waits for approval (the live update is
    test_live's subject; here a reload is quicker than the next poll)."""
    log_in(page, stack)
    stack.fire(NEEDS_APPROVAL, service, severity="high")
    alert_id = stack.alert_id(NEEDS_APPROVAL, service)
    wait_until(lambda: _run(stack, service)["status"] == "awaiting_approval", 10, "the approval")
    page.reload()
    article = incident(page, alert_id)
    expect(article.locator("form.action-approve")).to_be_visible()
    return article


def _run(stack, service: str) -> dict[str, Any]:
    [run] = [r for r in stack.get("/api/remediations")["remediations"]
             if r["target"] == f"service={service}"]  # fmt: skip
    return run


def _acted_on(stack) -> list[str]:
    return stack.acted.read_text().split() if stack.acted.exists() else []


def test_approving_lets_the_run_act_and_the_timeline_shows_it(stack, tab) -> None:
    page = tab.page
    article = _awaiting_approval(stack, page, "svc-approved")
    assert "svc-approved" not in _acted_on(stack)
    with page.expect_navigation():
        article.locator("form.action-approve button").click()

    wait_until(lambda: _run(stack, "svc-approved")["status"] == "verified", 10, "the run verified")
    page.reload()
    expect(article.locator("ol.timeline > li[data-kind=verified]")).to_have_count(1)
    assert _acted_on(stack).count("svc-approved") == 1
    run = _run(stack, "svc-approved")
    assert (run["approval"], run["approval_by"]) == ("approved", OPERATOR)
    expect(article).to_contain_text(f"approved by {OPERATOR}")
    assert tab.errors == []


def test_rejecting_with_a_reason_ends_the_run_without_acting(stack, tab) -> None:
    page = tab.page
    article = _awaiting_approval(stack, page, "svc-rejected")
    form = article.locator("form.action-reject")
    form.locator("input[name=reason]").fill("the cache is being migrated")
    with page.expect_navigation():
        form.locator("button").click()

    wait_until(lambda: _run(stack, "svc-rejected")["status"] == "blocked", 10, "the run blocked")
    page.reload()
    expect(article).to_contain_text(f"rejected by {OPERATOR}: the cache is being migrated")
    expect(article.locator("form.action-approve")).to_have_count(0)
    assert "svc-rejected" not in _acted_on(stack)


def test_resolving_as_handled_closes_the_incident_with_the_note(stack, tab) -> None:
    page = tab.page
    log_in(page, stack)
    stack.fire("HandledByHand", "svc-handled")
    alert_id = stack.alert_id("HandledByHand")
    page.reload()
    form = incident(page, alert_id).locator("form.action-resolve")
    form.locator("input[name=note]").fill("restarted the pool by hand")
    with page.expect_navigation():
        form.locator("button").click()

    article = incident(page, alert_id)
    expect(article).to_have_attribute("data-state", "resolved")
    handled = article.locator("ol.timeline > li[data-kind=handled]")
    expect(handled).to_contain_text(f"by {OPERATOR}: restarted the pool by hand")
    row = stack.incident("HandledByHand")
    assert (row["handled_by"], row["handled_note"]) == (OPERATOR, "restarted the pool by hand")
    assert tab.errors == []
