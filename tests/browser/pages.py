"""What the browser tests do on the console as a person would: open it, log in,
find an incident by the hooks the page promises (`#incident-<alert_id>`,
`ol.timeline > li[data-kind]`, `form.action-<name>`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from webhook_support import OPERATOR_PASSWORD

from browser.console_stack import OPERATOR, ConsoleStack

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}  # an iPhone 12-15's CSS viewport
# console.js polls every 5 s; a change is on the page within one poll and a bit.
LIVE_TIMEOUT_MS = 12_000


@dataclass
class Tab:
    """A page of its own browser context (no cookies shared with other tests),
    with what the page said on its console and the errors its scripts raised."""

    page: Any
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def open_tab(browser: Any, viewport: dict[str, int]) -> tuple[Any, Tab]:
    """A new context (the caller closes it) and its one page."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(10_000)
    tab = Tab(page)
    page.on("console", lambda message: tab.console.append(message.text))
    page.on("pageerror", lambda error: tab.errors.append(str(error)))
    return context, tab


def log_in(page: Any, stack: ConsoleStack) -> None:
    """Through the login form, landing back on the console."""
    page.goto(f"{stack.webhook}/login?next=/")
    page.fill("input[name=name]", OPERATOR)
    page.fill("input[name=password]", OPERATOR_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.webhook}/")


def incident(page: Any, alert_id: int) -> Any:
    """The incident's article (a locator: it follows live updates)."""
    return page.locator(f"#incident-{alert_id}")


def timeline_kinds(page: Any, alert_id: int) -> list[str]:
    kinds: list[str] = (
        incident(page, alert_id)
        .locator("ol.timeline > li")
        .evaluate_all("items => items.map(li => li.dataset.kind)")
    )
    return kinds


def fired_on_console(stack: ConsoleStack, page: Any, alertname: str, service: str) -> Any:
    """Fire a critical alert, wait for the webhook to have it, and load the
    console: the alert's id and its incident's article, shown."""
    stack.fire(alertname, service)
    alert_id = stack.alert_id(alertname)
    page.goto(f"{stack.webhook}/")
    article = incident(page, alert_id)
    article.wait_for(state="visible")
    return alert_id, article
