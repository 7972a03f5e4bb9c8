"""The console holds at a phone's 390 px: nothing makes the page scroll sideways,
with long label values, several incidents and the operator's forms on it.

With SCREENSHOTS set to a folder, the tests save the console as they see it
there (README's pictures are taken from a real stack by bench/try_it.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from browser.console_stack import REMEDIATED
from browser.pages import DESKTOP, PHONE, incident, log_in, open_tab

pytestmark = pytest.mark.integration

LONG_VALUE = "orders-eu-west-1a-postgres-primary-" + "x" * 60


@pytest.fixture(scope="module")
def incidents(stack) -> list[int]:
    """A few incidents as a bad morning brings them: a dead service with its
    symptom, a disk filling, a slow dependency, one a playbook acts on; long
    values in their labels."""
    stack.fire("ServiceUnavailable", "orders", category="connection", pod=LONG_VALUE)
    stack.fire("ErrorRateHigh", "orders", severity="high", category="connection")
    stack.fire("DiskWillFillIn4Hours", "storage", severity="high",
               category="resource_exhaustion", mountpoint="/var/lib/" + "deep/" * 12)  # fmt: skip
    stack.fire("ApiResponseTimeHigh", "payments", severity="medium", category="timeout")
    stack.fire(REMEDIATED, "cache", severity="high", category="resource_exhaustion")
    names = ("ServiceUnavailable", "DiskWillFillIn4Hours", "ApiResponseTimeHigh", REMEDIATED)
    return [stack.alert_id(name) for name in names]


def _screenshot(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def _scroll_width(page) -> int:
    width: int = page.evaluate("document.scrollingElement.scrollWidth")
    return width


@pytest.mark.parametrize("logged_in", [False, True], ids=["viewer", "operator"])
def test_no_sideways_scroll_at_390_px(browser, stack, incidents, logged_in: bool) -> None:
    context, tab = open_tab(browser, PHONE)
    try:
        page = tab.page
        if logged_in:
            log_in(page, stack)
        else:
            page.goto(f"{stack.webhook}/")
        for alert_id in incidents:
            expect(incident(page, alert_id)).to_be_visible()
        if logged_in:
            _screenshot(page, "console-390.png")
        assert _scroll_width(page) <= PHONE["width"]
        assert tab.errors == []
    finally:
        context.close()


def test_the_desktop_console(tab, stack, incidents) -> None:
    page = tab.page
    log_in(page, stack)
    for alert_id in incidents:
        expect(incident(page, alert_id)).to_be_visible()
    _screenshot(page, "console-desktop.png")
    assert _scroll_width(page) <= DESKTOP["width"]
    assert tab.errors == []
