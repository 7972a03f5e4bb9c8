"""An incident on a phone says what is broken now at its top — its state, how
many of its alerts nobody acknowledged, the actions — and keeps the rest (the
older timeline lines, alerts no longer firing, a run's steps) one tap away, in
`<details>` that open without JavaScript. An acknowledgement covers the alerts
it was given: one that fires later makes the incident firing again."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from support.procs import wait_until

from browser.console_stack import OPERATOR
from browser.pages import LIVE_TIMEOUT_MS, PHONE, log_in, open_tab

pytestmark = pytest.mark.integration

SERVICE = "svc-checkout"
# Named apart from the inhibit rules' alerts: Alertmanager passes each of them on.
HEADLINE, SECOND, THIRD, GONE = "CheckoutDown", "CheckoutErrors", "CheckoutSlow", "CheckoutQueue"


def _resolved_at_webhook(stack, alertname: str) -> bool:
    return any(
        a["alertname"] == alertname for a in stack.get("/api/alerts", status="resolved")["alerts"]
    )


@pytest.fixture(scope="module")
def checkout(stack) -> str:
    """One incident of four alerts, one of them resolved since, with the headline's
    messages delivered: more timeline lines than the page shows at once. Its service."""
    stack.fire(HEADLINE, SERVICE)
    stack.fire(SECOND, SERVICE, severity="high")
    stack.fire(THIRD, SERVICE, severity="medium")
    stack.fire(GONE, SERVICE, severity="medium")
    first = stack.alert_id(HEADLINE)
    for name in (SECOND, THIRD, GONE):
        stack.alert_id(name)
    stack.resolve(GONE, SERVICE, severity="medium")
    wait_until(lambda: _resolved_at_webhook(stack, GONE), 20, f"{GONE} resolved at the webhook")
    wait_until(
        lambda: sum(d["status"] == "delivered" for d in stack.deliveries(first)) >= 3,
        20,
        f"{HEADLINE}'s messages delivered",
    )
    return SERVICE


def _incident_of(page: Any, service: str) -> Any:
    """The firing incident of `service` (its id is that of whichever of its
    alerts reached the webhook first, which Alertmanager's batching decides)."""
    return page.locator("article.incident[data-state]", has=page.locator("h3", has_text=service))


def _box(locator: Any) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, "shown"
    found: dict[str, float] = box
    return found


def test_on_a_phone_the_state_count_and_actions_come_first(browser, stack, checkout) -> None:
    context, tab = open_tab(browser, PHONE)
    try:
        page = tab.page
        log_in(page, stack)
        article = _incident_of(page, checkout)
        expect(article).to_be_visible()
        expect(article.locator("header .state")).to_have_text("firing")
        expect(article.locator("header .unacked")).to_have_text("3 unacknowledged")
        expect(article.locator("header h3")).to_contain_text(HEADLINE)
        article.scroll_into_view_if_needed()
        top = _box(article)["y"]
        ack, resolve = (_box(article.locator(f"form.action-{n}")) for n in ("ack", "resolve"))
        timeline = _box(article.locator("ol.timeline").last)
        assert ack["y"] < timeline["y"] and resolve["y"] < timeline["y"]
        assert resolve["y"] + resolve["height"] - top < PHONE["height"], (
            "the actions are on the incident's first screen"
        )
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
        assert tab.errors == []
    finally:
        context.close()


@pytest.mark.parametrize("script", [True, False], ids=["script", "no-script"])
def test_on_a_phone_older_lines_and_resolved_alerts_open_with_a_tap(
    browser, stack, checkout, script: bool
) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=script)
    try:
        page = context.new_page()
        page.goto(f"{stack.webhook}/")
        article = _incident_of(page, checkout)
        expect(article).to_be_visible()
        for collapsed in ("details.earlier", "details.resolved-alerts"):
            details = article.locator(collapsed)
            expect(details).to_have_count(1)
            expect(details.locator("li").first).to_be_hidden()
            details.locator("summary").click()
            expect(details.locator("li").first).to_be_visible()
        expect(article.locator("details.resolved-alerts li")).to_contain_text(f"{GONE} (resolved)")
        shown = article.locator("ol.timeline").last.locator("li[data-kind]")
        assert shown.count() <= 6
        assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()


def test_an_acknowledgement_covers_the_alerts_shown_and_a_later_one_fires_again(stack, tab) -> None:
    page = tab.page
    log_in(page, stack)
    service = "svc-billing"
    stack.fire("BillingErrors", service, severity="high")
    stack.fire("BillingSlow", service, severity="medium")
    stack.alert_id("BillingErrors")
    stack.alert_id("BillingSlow")
    page.reload()
    article = _incident_of(page, service)
    expect(article.locator("header .unacked")).to_have_text("2 unacknowledged")
    with page.expect_navigation():
        article.locator("form.action-ack button").click()
    expect(article.locator("header .state")).to_have_text("acknowledged")
    expect(article.locator("header .unacked")).to_have_count(0)
    assert [stack.incident(n)["acked_by"] for n in ("BillingErrors", "BillingSlow")] == [
        OPERATOR,
        OPERATOR,
    ]

    stack.fire("BillingQueue", service, severity="medium")  # after the acknowledgement
    stack.alert_id("BillingQueue")
    expect(article.locator("header .state")).to_have_text("firing", timeout=LIVE_TIMEOUT_MS)
    expect(article.locator("header .unacked")).to_have_text("1 unacknowledged")
    assert stack.incident("BillingQueue")["acked_at"] is None
    assert tab.errors == []
