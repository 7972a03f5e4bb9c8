"""No script runs on the console but the webhook's own files: markup in a label
value is shown as text, and an inline script slipped into the page anyway is
refused by the Content-Security-Policy the webhook sends."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser.pages import incident

pytestmark = pytest.mark.integration

MARKER = "document.documentElement.dataset.injected = 'yes'"
INLINE = f'<script>{MARKER}</script><img src=x onerror="{MARKER}">'
CSP_REFUSAL = "violates the following Content Security Policy directive"


def _injected(page) -> str | None:
    found: str | None = page.evaluate("document.documentElement.dataset.injected || null")
    return found


def _serve_with_inline_script(page, keep_policy: bool) -> None:
    """The console as the webhook answers it, an inline script added before
    `</body>`; its headers kept, or (the control) without the policy."""

    def handle(route) -> None:
        response = route.fetch()
        headers = dict(response.headers)
        if not keep_policy:
            headers.pop("content-security-policy")
        body = response.text().replace("</body>", f"{INLINE}</body>")
        route.fulfill(response=response, headers=headers, body=body)

    page.route("**/", handle)


def test_markup_in_label_values_is_shown_as_text(stack, tab) -> None:
    stack.fire("MarkupInLabels", "svc-markup", instance=f'"><b>{INLINE}')
    alert_id = stack.alert_id("MarkupInLabels")
    page = tab.page
    page.goto(f"{stack.webhook}/")
    expect(incident(page, alert_id).locator(".instance")).to_contain_text("<script>")
    assert _injected(page) is None
    own = page.locator("script").evaluate_all("scripts => scripts.map(s => s.src)")
    assert own == [f"{stack.webhook}/dashboard/static/console.js"]
    assert tab.errors == []


def test_the_policy_refuses_an_inline_script_in_the_page(stack, tab) -> None:
    page = tab.page
    _serve_with_inline_script(page, keep_policy=True)
    response = page.goto(f"{stack.webhook}/")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("load")
    assert _injected(page) is None
    refusals = [line for line in tab.console if CSP_REFUSAL in line]
    assert len(refusals) == 2, tab.console  # the <script> and the onerror handler


def test_without_the_policy_the_same_page_would_run_it(stack, tab) -> None:
    # The control: what the test injects does run when no policy stops it, so the
    # test above fails if the webhook stopped sending it.
    page = tab.page
    _serve_with_inline_script(page, keep_policy=False)
    page.goto(f"{stack.webhook}/")
    page.wait_for_load_state("load")
    assert _injected(page) == "yes"
