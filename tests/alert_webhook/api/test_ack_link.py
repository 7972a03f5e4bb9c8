"""api/ack_link.py: the email's signed, expiring acknowledge link asks, then acts.

The mail is sent by the real delivery worker to a real SMTP server on loopback
(aiosmtpd); the link is read out of the mail that arrived.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fakes import smtp_provider, smtp_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webhook_support import SECRET_KEY, csrf_token, make_alert, make_notification

from alert_webhook.delivery.channels.ack_links import AckLinks

BOB = "bob@example.org"
DAY = 86400


def config(box: Any, **links: Any) -> dict[str, Any]:
    return {
        "links": links,
        "channels": {"email": {"providers": [smtp_provider(box)], "recipients": [BOB]}},
    }


@pytest.fixture
def box():
    with smtp_server() as box:
        yield box


def deliver(app: Any, *alerts: dict[str, Any]) -> None:
    app.test_client().post("/alerts", json=make_notification(*(alerts or (make_alert("a"),))))
    app.extensions["alert_webhook"].workers.run_once()


def part(mail: Any, content_type: str = "text/plain") -> str:
    """One part of a mail as it arrived, decoded."""
    found = next(p for p in mail.walk() if p.get_content_type() == content_type)
    return found.get_payload(decode=True).decode()


def mailed_link(box: Any) -> str:
    """The acknowledge link of the last mail, as its text part says it, checked
    to be the same in its HTML part."""
    text, html = part(box.messages[-1]), part(box.messages[-1], "text/html")
    match = re.search(r"Acknowledge: (\S+/ack/\S+)", text)
    assert match, text
    assert f'href="{match[1]}"' in html
    return match[1]


@pytest.fixture
def app(app_factory, box):
    app = app_factory(config(box), env=SECRET_KEY)
    deliver(app)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def path_of(link: str) -> str:
    return link.split("127.0.0.1:9095", 1)[1]


def acked_by(client: Any, alert_id: int = 1) -> str | None:
    incidents = {i["alert_id"]: i for i in client.get("/api/incidents").get_json()["incidents"]}
    return incidents[alert_id]["acked_by"]


def confirm(client: Any, path: str) -> Any:
    """Open the link and press the button, as a person does."""
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})


def test_the_mail_carries_a_link_that_asks_then_acknowledges_by_the_recipient(
    box, client, clock
) -> None:
    link = mailed_link(box)
    assert link.startswith("http://127.0.0.1:9095/ack/")
    page = client.get(path_of(link))
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "DemoServiceDown" in body and "db1:9100" in body and BOB in body
    assert re.search(r'<form class="action-ack" method="post"', body)
    assert acked_by(client) is None  # opening the link acknowledges nothing
    done = client.post(path_of(link), data={"csrf_token": csrf_token(body)})
    assert done.status_code == 200 and "acknowledged" in done.get_data(as_text=True)
    assert acked_by(client) == f"{BOB} (email link)"
    (incident,) = client.get("/api/incidents").get_json()["incidents"]
    assert incident["acked_at"] == clock.now


def test_the_page_sends_the_same_security_headers_as_every_page(box, client) -> None:
    page = client.get(path_of(mailed_link(box)))
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" not in page.get_data(as_text=True)


def test_a_bare_get_never_acts_however_often(box, client) -> None:
    path = path_of(mailed_link(box))
    for _ in range(3):
        assert client.get(path).status_code == 200
    assert client.head(path).status_code == 200
    assert acked_by(client) is None


def test_a_post_without_the_pages_csrf_token_is_refused(box, client) -> None:
    path = path_of(mailed_link(box))
    client.get(path)
    for data in ({}, {"csrf_token": "forged"}):
        refused = client.post(path, data=data)
        assert refused.status_code == 400 and "reload" in refused.get_data(as_text=True)
    assert acked_by(client) is None


def test_a_second_confirmation_says_who_acknowledged_first(app, box, client, clock) -> None:
    links: AckLinks = app.extensions["ack_links"]
    carols = path_of(links.make(1, "carol@example.org").url)
    left_open = client.get(carols).get_data(as_text=True)  # a tab Carol has not pressed yet
    confirm(client, path_of(mailed_link(box)))
    clock.advance(60)
    late = client.post(carols, data={"csrf_token": csrf_token(left_open)})
    assert f"already acknowledged by {BOB} (email link)" in late.get_data(as_text=True)
    page = client.get(carols).get_data(as_text=True)
    assert f"already acknowledged by {BOB} (email link)" in page
    assert "action-ack" not in page  # nothing left to confirm
    assert acked_by(client) == f"{BOB} (email link)"


def test_the_link_works_for_its_lifetime_then_is_refused_with_a_page(box, client, clock) -> None:
    path = path_of(mailed_link(box))
    form = client.get(path).get_data(as_text=True)
    clock.advance(DAY - 1)
    assert client.get(path).status_code == 200
    clock.advance(2)
    expired = client.get(path)
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
    late = client.post(path, data={"csrf_token": csrf_token(form)})
    assert late.status_code == 400 and "expired" in late.get_data(as_text=True)
    assert acked_by(client) is None


def test_the_lifetime_is_a_setting(app_factory, box, clock) -> None:
    app = app_factory(config(box, ack_link_lifetime_seconds=60), env=SECRET_KEY)
    deliver(app)
    text = part(box.messages[-1])
    assert "2027-01-15 08:01 UTC" in text  # the fake clock's now + 60 s
    clock.advance(61)
    assert app.test_client().get(path_of(mailed_link(box))).status_code == 400


def test_a_tampered_link_is_refused_with_a_page(box, client) -> None:
    path = path_of(mailed_link(box))
    token = path.rsplit("/", 1)[1]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (flipped, token[5:], "x" + token, "nonsense", "a" * 10_000, "ä.ö"):
        resp = client.get(f"/ack/{bad}")
        assert resp.status_code == 403, bad
        assert "not valid" in resp.get_data(as_text=True)
    assert acked_by(client) is None


def test_a_link_signed_with_another_key_is_refused(box, client, clock) -> None:
    forged = AckLinks("another-key-" + "z" * 20, "http://127.0.0.1:9095/", DAY, clock)
    resp = client.get(path_of(forged.make(1, BOB).url))
    assert resp.status_code == 403
    assert acked_by(client) is None


def test_a_valid_link_to_no_incident_is_404(app, client) -> None:
    links: AckLinks = app.extensions["ack_links"]
    resp = client.get(path_of(links.make(99, BOB).url))
    assert resp.status_code == 404 and "No incident 99" in resp.get_data(as_text=True)


def test_the_link_starts_at_the_public_url(app_factory, box) -> None:
    app = app_factory(config(box, public_url="https://alerts.example.org/"), env=SECRET_KEY)
    deliver(app)
    assert mailed_link(box).startswith("https://alerts.example.org/ack/")


def test_without_the_secret_key_mail_has_no_link_and_the_page_says_why(app_factory, box) -> None:
    app = app_factory(config(box))
    deliver(app)
    text = part(box.messages[-1])
    assert "/ack/" not in text
    resp = app.test_client().get("/ack/anything")
    assert resp.status_code == 404 and "ALERT_WEBHOOK_SECRET_KEY" in resp.get_data(as_text=True)


def test_a_resolution_mail_carries_no_link(app_factory, box) -> None:
    app = app_factory(config(box), env=SECRET_KEY)
    deliver(app)
    deliver(app, make_alert("a", status="resolved"))
    (resolved,) = [m for m in box.messages if "RESOLVED" in m["Subject"]]
    text = part(resolved)
    assert "/ack/" not in text


def test_another_sites_post_is_refused_before_the_link_is_read(box, client) -> None:
    path = path_of(mailed_link(box))
    form = client.get(path).get_data(as_text=True)
    resp = client.post(
        path, data={"csrf_token": csrf_token(form)}, headers={"Origin": "https://evil.example"}
    )
    assert resp.status_code == 403
    assert acked_by(client) is None


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    token=st.text(
        st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="/?#%"),
        min_size=1,
        max_size=200,
    ).filter(lambda t: t.strip("."))
)
def test_whatever_the_path_carries_is_a_clear_4xx_never_a_5xx(client, token) -> None:
    for method in (client.get, client.post):
        resp = method(f"/ack/{token}")
        assert 400 <= resp.status_code < 500, resp.get_data(as_text=True)


def test_a_link_to_a_resolved_incident_says_when_it_closed_and_acknowledges_nothing(
    app, box, client, clock
) -> None:
    path = path_of(mailed_link(box))
    left_open = client.get(path).get_data(as_text=True)  # the page, before it resolved
    clock.advance(120)
    deliver(app, make_alert("a", status="resolved"))
    page = client.get(path)
    shown = page.get_data(as_text=True)
    assert page.status_code == 200 and "action-ack" not in shown
    assert "is closed: resolved (Alertmanager said so) at 2027-01-15 08:02 UTC" in shown
    late = client.post(path, data={"csrf_token": csrf_token(left_open)})
    said = late.get_data(as_text=True)
    assert late.status_code == 409, said
    assert "is closed: resolved (Alertmanager said so) at 2027-01-15 08:02 UTC" in said
    assert "nothing was acknowledged" in said
    assert acked_by(client) is None


def test_a_link_to_an_incident_handled_by_an_operator_says_by_whom(app, box, client, clock):
    path = path_of(mailed_link(box))
    left_open = client.get(path).get_data(as_text=True)
    clock.advance(300)
    store = app.extensions["alert_webhook"].store
    store.incidents.resolve_handled(1, "alice", "restarted db1", clock())
    late = client.post(path, data={"csrf_token": csrf_token(left_open)})
    said = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "is closed: handled by alice (restarted db1) at 2027-01-15 08:05 UTC" in said
    assert acked_by(client) is None
