"""Acting on an incident needs a logged-in operator, and each form post carries
the session's CSRF token: a forged or missing one, or another site's form,
changes nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser.pages import fired_on_console, incident, log_in

pytestmark = pytest.mark.integration


def test_without_a_login_the_console_offers_no_action_and_a_post_is_sent_to_log_in(
    stack, tab
) -> None:
    page = tab.page
    alert_id, article = fired_on_console(stack, page, "LoginNeeded", "svc-login")
    expect(article.locator("form[class^=action-]")).to_have_count(0)

    # The form's own post, made without a session: to the login page, nothing done.
    answer = page.request.post(
        f"{stack.webhook}/api/incidents/{alert_id}/ack", form={"csrf_token": "x"}, max_redirects=0
    )
    assert answer.status == 303 and "/login" in answer.headers["location"]
    assert stack.incident("LoginNeeded")["acked_at"] is None

    article.get_by_role("link", name=re.compile("log in", re.I)).click()
    page.wait_for_url(re.compile(r"/login\?next="))
    expect(page.locator("input[name=password]")).to_be_visible()


def test_logged_in_the_operator_gets_the_action_forms(stack, tab) -> None:
    stack.fire("LoggedIn", "svc-logged-in")
    alert_id = stack.alert_id("LoggedIn")
    log_in(tab.page, stack)
    article = incident(tab.page, alert_id)
    expect(article.locator("form.action-ack")).to_have_count(1)
    expect(article.locator("form.action-ack input[name=csrf_token]")).to_have_count(1)


@pytest.mark.parametrize("token", ["forged", None], ids=["forged-token", "no-token"])
def test_an_acknowledgement_without_the_sessions_token_is_refused(
    stack, tab, token: str | None
) -> None:
    name = f"Csrf{'Forged' if token else 'Missing'}"
    stack.fire(name, f"svc-{name.lower()}")
    alert_id = stack.alert_id(name)
    page = tab.page
    log_in(page, stack)
    field = incident(page, alert_id).locator("form.action-ack input[name=csrf_token]")
    if token is None:
        field.evaluate("input => input.remove()")
    else:
        field.evaluate("(input, value) => { input.value = value; }", token)
    with page.expect_navigation() as navigation:
        incident(page, alert_id).locator("form.action-ack button").click()
    assert navigation.value.status == 400
    assert "CSRF" in page.content()
    assert stack.incident(name)["acked_at"] is None


def test_another_sites_form_cannot_acknowledge_for_the_operator(stack, tab) -> None:
    stack.fire("CrossSite", "svc-cross-site")
    alert_id = stack.alert_id("CrossSite")
    page = tab.page
    log_in(page, stack)
    # A page elsewhere whose form posts to the console, as a hostile site would.
    target = f"{stack.webhook}/api/incidents/{alert_id}/ack"
    hostile = f'<form method="post" action="{target}"><button>win a prize</button></form>'
    page.route(
        "http://elsewhere.example/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=hostile),
    )
    page.goto("http://elsewhere.example/prize")
    with page.expect_navigation() as navigation:
        page.click("button")
    assert navigation.value.status in (400, 403)
    assert stack.incident("CrossSite")["acked_at"] is None
